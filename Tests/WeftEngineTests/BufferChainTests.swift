import XCTest
@testable import WeftEngine

final class BufferChainTests: XCTestCase {
    private func pattern(_ n: Int) -> [UInt8] { (0..<n).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ $0 >> 8) } }

    /// One buffer up to maxDataLength; from there one more per 2048 bytes; a
    /// 64 KB GSO frame with its headers fits the limit.
    func testBuffersNeeded() {
        XCTAssertEqual(BufferChain.buffersNeeded(0), 1)
        XCTAssertEqual(BufferChain.buffersNeeded(BufferPool.maxDataLength), 1)
        XCTAssertEqual(BufferChain.buffersNeeded(BufferPool.maxDataLength + 1), 2)
        XCTAssertEqual(BufferChain.buffersNeeded(BufferPool.maxDataLength + 2048), 2)
        XCTAssertEqual(BufferChain.buffersNeeded(BufferPool.maxDataLength + 2049), 3)
        XCTAssertEqual(BufferChain.maxBuffers, BufferChain.buffersNeeded(65_536 + 256))
        XCTAssertLessThanOrEqual(BufferChain.maxBuffers, 34)
    }

    /// Copy in, gather out, byte for byte, for sizes around every boundary;
    /// lengths and links add up; freeing the head gives every buffer back
    /// with the large-frame fields reset.
    func testCopyGatherAndFreeRoundTrip() {
        let pool = BufferPool(count: 256)
        let buffers = WorkerBuffers(pool: pool, capacity: 64)
        let m = BufferPool.maxDataLength
        for length in [0, 1, 64, m - 1, m, m + 1, m + 2048, m + 2049, 9000, 65_535, BufferChain.maxFrameLength] {
            let bytes = pattern(length)
            let head = bytes.withUnsafeBytes { BufferChain.copy(from: $0.baseAddress ?? UnsafeRawPointer(bitPattern: 1)!, length: length, buffers: buffers) }
            XCTAssertNotEqual(head, BufferPool.invalid, "\(length)")
            XCTAssertEqual(pool.metadata[Int(head)].totalLength, length, "\(length)")
            XCTAssertEqual(pool.metadata[Int(head)].dataOffset, UInt16(BufferPool.headroom))
            XCTAssertEqual(BufferChain.count(head, metadata: pool.metadata), BufferChain.buffersNeeded(length), "\(length)")
            XCTAssertEqual(pool.metadata[Int(head)].isChained, length > m)
            var out = [UInt8](repeating: 0xEE, count: length + 1)
            let n = out.withUnsafeMutableBytes { BufferChain.gather(head, to: $0.baseAddress!, pool: pool) }
            XCTAssertEqual(n, length)
            XCTAssertEqual(Array(out.prefix(length)), bytes, "\(length)")
            pool.metadata[Int(head)].gsoSize = 1448
            pool.metadata[Int(head)].gsoType = GSOType.tcp4.rawValue
            buffers.free(head)
        }
        buffers.drain()
        XCTAssertEqual(pool.sharedFree, 256, "every buffer of every chain came back")
        for i in 0..<256 {
            let md = pool.metadata[i]
            XCTAssertEqual(md.nextBuffer, BufferPool.invalid, "buffer \(i)")
            XCTAssertEqual(md.chainLength, 0); XCTAssertEqual(md.gsoSize, 0); XCTAssertEqual(md.gsoType, 0)
        }
    }

    /// A dry pool mid-chain takes nothing: the frame is refused whole.
    func testExhaustionTakesNothing() {
        let pool = BufferPool(count: 8)
        let buffers = WorkerBuffers(pool: pool, capacity: 8)
        let bytes = pattern(20_000)   // needs 11 buffers
        let head = bytes.withUnsafeBytes { BufferChain.copy(from: $0.baseAddress!, length: 20_000, buffers: buffers) }
        XCTAssertEqual(head, BufferPool.invalid)
        buffers.drain()
        XCTAssertEqual(pool.sharedFree, 8)
    }

    /// Graph.clone copies a whole chain (the flood path), and a clone refused
    /// for want of buffers leaves the pool as it was.
    func testGraphCloneCopiesChains() {
        let pool = BufferPool(count: 40)   // two chains of 15 fit, a third does not
        let graph = Graph(pool: pool, interfaces: InterfaceTable())
        let bytes = pattern(30_000)
        let head = bytes.withUnsafeBytes { BufferChain.copy(from: $0.baseAddress!, length: 30_000, buffers: graph.buffers) }
        pool.metadata[Int(head)].rxInterface = 7
        pool.metadata[Int(head)].gsoSize = 1448
        let copy = graph.clone(head)
        XCTAssertNotEqual(copy, BufferPool.invalid)
        XCTAssertEqual(pool.metadata[Int(copy)].rxInterface, 7)
        XCTAssertEqual(pool.metadata[Int(copy)].gsoSize, 1448)
        XCTAssertEqual(pool.metadata[Int(copy)].totalLength, 30_000)
        var out = [UInt8](repeating: 0, count: 30_000)
        _ = out.withUnsafeMutableBytes { BufferChain.gather(copy, to: $0.baseAddress!, pool: pool) }
        XCTAssertEqual(out, bytes)
        var a = head, b = copy
        while a != BufferPool.invalid {   // no buffer shared between the two chains
            XCTAssertNotEqual(a, b)
            a = pool.metadata[Int(a)].nextBuffer; b = pool.metadata[Int(b)].nextBuffer
        }
        XCTAssertEqual(b, BufferPool.invalid)

        XCTAssertEqual(BufferChain.count(head, metadata: pool.metadata), 15)
        let before = graph.buffers.cachedCount + pool.sharedFree
        XCTAssertEqual(graph.clone(head), BufferPool.invalid)
        XCTAssertEqual(graph.buffers.cachedCount + pool.sharedFree, before)
        for h in [head, copy] { graph.buffers.free(h) }
        graph.buffers.drain()
        XCTAssertEqual(pool.sharedFree, 40)
    }
}
