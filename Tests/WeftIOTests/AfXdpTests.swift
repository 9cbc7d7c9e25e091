import CXDP
import XCTest
import WeftEngine
import WeftPacket
@testable import WeftIO

/// What can be checked without the kernel: descriptor <-> buffer math, the
/// ring wrappers against rings laid out in memory the way the kernel maps
/// them, and the buffer-ownership bookkeeping that closing a port relies on.
final class AfXdpTests: XCTestCase {
    func testAddressMath() {
        // Received frames land at chunk + XDP_PACKET_HEADROOM (aligned mode, headroom 0).
        let addr = AfXdpAddress.address(1234, offset: UInt16(AfXdpAddress.rxDataOffset))
        XCTAssertEqual(addr, 1234 * 2048 + 256)
        XCTAssertEqual(AfXdpAddress.bufferIndex(addr), 1234)
        XCTAssertEqual(AfXdpAddress.offset(addr), 256)
        XCTAssertEqual(AfXdpAddress.address(7), 7 << 11)
        for bi: UInt32 in [0, 1, 32767, 1 << 20] {
            for off: UInt16 in [0, 50, 128, 256, 2047] {
                let a = AfXdpAddress.address(bi, offset: off)
                XCTAssertEqual(AfXdpAddress.bufferIndex(a), bi)
                XCTAssertEqual(AfXdpAddress.offset(a), off)
            }
        }
        // VXLAN prepends 50 bytes in front of a received frame.
        XCTAssertGreaterThanOrEqual(AfXdpAddress.rxDataOffset, 50)
        // A full-size Ethernet frame (1518 with a VLAN tag) fits behind the kernel's headroom.
        XCTAssertLessThanOrEqual(AfXdpAddress.rxDataOffset + 1518, BufferPool.bufferSize)
    }

    /// A producer ring (fill/tx) of `size` entries in plain memory, the kernel side played by the test.
    final class FakeRing {
        let size: UInt32
        let producer = UnsafeMutablePointer<UInt32>.allocate(capacity: 1)
        let consumer = UnsafeMutablePointer<UInt32>.allocate(capacity: 1)
        let flags = UnsafeMutablePointer<UInt32>.allocate(capacity: 1)
        let descs: UnsafeMutableRawPointer
        init(size: UInt32) {
            self.size = size
            producer.initialize(to: 0); consumer.initialize(to: 0); flags.initialize(to: 0)
            descs = .allocate(byteCount: Int(size) * 16, alignment: 8)
        }
        deinit { producer.deallocate(); consumer.deallocate(); flags.deallocate(); descs.deallocate() }
        // libxdp's layout: a producer's cached_cons runs `size` ahead of the real consumer.
        var prod: xsk_ring_prod {
            xsk_ring_prod(cached_prod: 0, cached_cons: size, mask: size - 1, size: size, producer: producer,
                          consumer: consumer, ring: descs, flags: flags)
        }
        var cons: xsk_ring_cons {
            xsk_ring_cons(cached_prod: 0, cached_cons: 0, mask: size - 1, size: size, producer: producer,
                          consumer: consumer, ring: descs, flags: flags)
        }
    }

    func testProducerRing() {
        let f = FakeRing(size: 8)
        var r = f.prod
        var idx: UInt32 = 0
        XCTAssertEqual(weft_xsk_prod_free(&r, 8), 8)
        XCTAssertEqual(weft_xsk_prod_reserve(&r, 6, &idx), 6)
        XCTAssertEqual(idx, 0)
        for k in 0..<UInt32(6) { weft_xsk_fill_set(&r, idx + k, AfXdpAddress.address(100 + k)) }
        XCTAssertEqual(f.producer.pointee, 0, "nothing visible before submit")
        weft_xsk_prod_submit(&r, 6)
        XCTAssertEqual(f.producer.pointee, 6)
        XCTAssertEqual(f.descs.load(fromByteOffset: 8 * 5, as: UInt64.self), 105 << 11)
        XCTAssertEqual(weft_xsk_prod_outstanding(&r), 6)
        XCTAssertEqual(weft_xsk_prod_reserve(&r, 3, &idx), 0, "all or nothing: 2 free")
        f.consumer.pointee = 4  // the kernel took 4
        XCTAssertEqual(weft_xsk_prod_outstanding(&r), 2)
        XCTAssertEqual(weft_xsk_prod_reserve(&r, 3, &idx), 3)
        XCTAssertEqual(idx, 6)
        weft_xsk_tx_set(&r, idx + 2, AfXdpAddress.address(9, offset: 128), 60)  // wraps to slot 0 (16-byte descs)
        XCTAssertEqual(f.descs.load(fromByteOffset: 0, as: UInt64.self), 9 << 11 | 128)
        XCTAssertEqual(f.descs.load(fromByteOffset: 8, as: UInt32.self), 60)
        XCTAssertEqual(weft_xsk_prod_needs_wakeup(&r), 0)
        f.flags.pointee = UInt32(XDP_RING_NEED_WAKEUP)
        XCTAssertNotEqual(weft_xsk_prod_needs_wakeup(&r), 0)
    }

    func testConsumerRing() {
        let f = FakeRing(size: 4)
        var r = f.cons
        var idx: UInt32 = 0
        XCTAssertEqual(weft_xsk_cons_peek(&r, 256, &idx), 0)
        // the kernel writes three rx descriptors
        for k in 0..<3 {
            f.descs.storeBytes(of: AfXdpAddress.address(UInt32(10 + k), offset: 256), toByteOffset: 16 * k, as: UInt64.self)
            f.descs.storeBytes(of: UInt32(60 + k), toByteOffset: 16 * k + 8, as: UInt32.self)
        }
        f.producer.pointee = 3
        XCTAssertEqual(weft_xsk_cons_peek(&r, 2, &idx), 2)
        XCTAssertEqual(AfXdpAddress.bufferIndex(weft_xsk_rx_addr(&r, idx + 1)), 11)
        XCTAssertEqual(weft_xsk_rx_len(&r, idx + 1), 61)
        weft_xsk_cons_release(&r, 2)
        XCTAssertEqual(f.consumer.pointee, 2)
        XCTAssertEqual(weft_xsk_cons_peek(&r, 256, &idx), 1)
        XCTAssertEqual(idx, 2)
        XCTAssertEqual(AfXdpAddress.offset(weft_xsk_rx_addr(&r, idx)), 256)
        // completion entries are bare addresses
        var c = f.cons
        f.descs.storeBytes(of: AfXdpAddress.address(42, offset: 256), toByteOffset: 0, as: UInt64.self)
        f.producer.pointee = 1; f.consumer.pointee = 0
        XCTAssertEqual(weft_xsk_cons_peek(&c, 256, &idx), 1)
        XCTAssertEqual(AfXdpAddress.bufferIndex(weft_xsk_comp_addr(&c, idx)), 42)
    }

    /// Closing a port hands back exactly the buffers its kernel side held.
    func testReclaimReturnsOnlyThePortsBuffers() {
        let pool = BufferPool(count: 64)
        let buffers = WorkerBuffers(pool: pool, capacity: 128)
        let ports = AfXdpPorts(pool: pool)
        var held: [UInt32] = []
        for _ in 0..<10 { held.append(buffers.alloc()) }
        let before = buffers.cachedCount + pool.sharedFree
        for (k, bi) in held.enumerated() { ports.owner[Int(bi)] = k < 6 ? 3 : 4 }  // slot 2: 6 buffers, slot 3: 4
        ports.reclaim(2, into: buffers)
        XCTAssertEqual(buffers.cachedCount + pool.sharedFree, before + 6)
        XCTAssertEqual((0..<64).filter { ports.owner[$0] == 4 }.count, 4)
        XCTAssertEqual((0..<64).filter { ports.owner[$0] == 3 }.count, 0)
        XCTAssertEqual(ports.openCount, 0)
    }
}

/// Partial checksums from veth senders are recognised from the bytes alone.
final class AfXdpChecksumTests: XCTestCase {
    /// An Ethernet + IPv4 + TCP frame with `payload` bytes and a complete checksum.
    func tcpFrame(payload: Int) -> [UInt8] {
        var f = [UInt8](repeating: 0, count: 14 + 20 + 20 + payload)
        f[12] = 0x08; f[13] = 0x00
        f[14] = 0x45; let total = 40 + payload; f[16] = UInt8(total >> 8); f[17] = UInt8(total & 0xFF)
        f[22] = 64; f[23] = 6
        f[26...29] = [10, 89, 0, 1]; f[30...33] = [10, 89, 0, 2]
        f[34] = 0x9c; f[35] = 0x40; f[36] = 0x14; f[37] = 0x51; f[46] = 0x50; f[47] = 0x18
        for i in 0..<payload { f[54 + i] = UInt8(truncatingIfNeeded: i &* 7 &+ 3) }
        f.withUnsafeMutableBytes { _ = Checksum.completeEthernetL4(frame: $0.baseAddress!, length: $0.count) }
        return f
    }

    func testPartialIsCompletedAndCompleteIsLeftAlone() {
        for payload in [0, 1, 33, 1400] {
            let good = tcpFrame(payload: payload)
            var partial = good
            // What a CHECKSUM_PARTIAL sender leaves: the folded pseudo-header sum.
            partial.withUnsafeMutableBytes { p in
                let ip = p.baseAddress! + 14
                let pseudo = Checksum.sum(ip + 12, 8) &+ 6 &+ UInt32(20 + payload)
                (ip + 20 + 16).storeBytes(of: Checksum.fold(pseudo).bigEndian, as: UInt16.self)
            }
            XCTAssertNotEqual(partial, good)
            let changed = partial.withUnsafeMutableBytes { AfXdpChecksum.completeIfPartial(frame: $0.baseAddress!, length: $0.count) }
            XCTAssertTrue(changed, "payload \(payload)")
            XCTAssertEqual(partial, good, "payload \(payload)")
            var again = good
            let changed2 = again.withUnsafeMutableBytes { AfXdpChecksum.completeIfPartial(frame: $0.baseAddress!, length: $0.count) }
            XCTAssertFalse(changed2)
            XCTAssertEqual(again, good)
        }
    }
}
