#if canImport(Glibc)
import Glibc
#endif
import CShims
import Dispatch
import WeftEngine

/// State of one AF_PACKET port: the kernel rings and our cursors into them.
/// A plain struct in a flat array, so the input and output nodes reach it per
/// packet without retaining anything.
public struct AfPacketPort {
    public var ring = weft_afp_ring()
    public var swIfIndex: UInt32 = 0
    public var active = false
    /// Next rx block (V3) or slot (V2) to read, the packet within the block,
    /// and that packet's header.
    var rxBlock: UInt32 = 0
    var rxPacket: UInt32 = 0
    var rxPacketHeader: UnsafeMutableRawPointer? = nil
    /// Next tx slot to fill; whether slots were filled since the last kick.
    var txSlot: UInt32 = 0
    var txPending = false
    /// Kernel-reported rx ring drops (PACKET_STATISTICS), accumulated.
    public var kernelDrops: UInt64 = 0
}

public struct AfPacketConfig: Sendable {
    /// Ring version: 2 (each frame visible to us the moment the kernel writes
    /// it) or 3 (frames handed over a block at a time, when the block fills or
    /// after `rxRetireMs`). See docs/architecture.md for the measurements.
    public var ringVersion: Int32 = 2
    /// Rx ring geometry (V2 carves the blocks into 2048-byte slots) and the
    /// V3 block retire timeout.
    ///
    /// The defaults (2048 rx slots in one-page blocks, 1024 tx slots: 6 MiB
    /// per port) absorb a TCP burst from a veth while an adaptive worker wakes
    /// up (512 rx slots dropped ~0.5% of an iperf3 run in the demo). Their
    /// setup cost is paid ahead of time by the spare-socket pool.
    /// V3 needs large blocks to batch anything: use `useV3()`.
    public var rxBlockSize: UInt32 = 4096
    public var rxBlockCount: UInt32 = 1024
    public var rxRetireMs: UInt32 = 1
    public var txFrames: UInt32 = 1024
    public init() {}

    /// V3 geometry: 32 blocks of 128 KiB (about 64 full-size frames each).
    public mutating func useV3() {
        ringVersion = 3
        rxBlockSize = 1 << 17
        rxBlockCount = 32
    }
}

public enum AfPacketError: Error, CustomStringConvertible {
    case open(errno: Int32, message: String)
    case full
    public var description: String {
        switch self {
        case .open(_, let m): return m
        case .full: return "af-packet: too many ports"
        }
    }
}

/// The AF_PACKET ports of one worker. Opened and closed by the control thread
/// under the worker barrier; read by af-packet-input/-output.
public final class AfPacketPorts {
    public static let capacity = 1024
    public let ports: UnsafeMutablePointer<AfPacketPort>
    /// Indices of active ports, densely packed for the input node's loop.
    let activeList: UnsafeMutablePointer<Int32>
    public private(set) var activeCount = 0
    public let config: AfPacketConfig
    /// Sockets with rings already set up, not yet bound to an interface.
    /// Ring setup costs the kernel an RCU grace period per ring; keeping a
    /// few ready takes that off the attach path (refilled in the background).
    private let spares = PThreadMutex<(ready: [weft_afp_ring], preparing: Int)>(([], 0))
    private let spareTarget: Int
    /// Concurrent: preparations wait on grace periods, not on CPU, and
    /// several waiting at once share them.
    private let preparer = DispatchQueue(label: "weft.af-packet.prepare", attributes: .concurrent)
    /// The ring-less socket af-packet-output sends chains and GSO
    /// super-frames through, whole (weft_afp_large_socket), or -1: V3 rings
    /// (no virtio-net headers, so no super-frames come in), or the socket
    /// could not be made (then every large frame is cut by gso-segment).
    public let largeFrameSocket: Int32
    /// Why `largeFrameSocket` is -1 on a V2 configuration, for the log.
    public let largeFrameSocketError: String?

    public init(config: AfPacketConfig = AfPacketConfig(), spareSockets: Int = 0) {
        self.config = config
        spareTarget = spareSockets
        if config.ringVersion == 2 {
            var err = [CChar](repeating: 0, count: 256)
            let fd = weft_afp_large_socket(&err, err.count)
            largeFrameSocket = fd >= 0 ? fd : -1
            largeFrameSocketError = fd >= 0 ? nil : String(cString: err)
        } else {
            largeFrameSocket = -1
            largeFrameSocketError = nil
        }
        ports = .allocate(capacity: AfPacketPorts.capacity)
        ports.initialize(repeating: AfPacketPort(), count: AfPacketPorts.capacity)
        activeList = .allocate(capacity: AfPacketPorts.capacity)
    }

    /// Whether the ports take chains and GSO super-frames whole
    /// (InterfaceTable.takesLargeFrames): the kernel segments them only if
    /// the device behind must.
    public var takesLargeFrames: Bool { largeFrameSocket >= 0 }

    deinit {
        if largeFrameSocket >= 0 { Glibc.close(largeFrameSocket) }
        for i in 0..<AfPacketPorts.capacity where ports[i].active { weft_afp_close(&ports[i].ring) }
        ports.deallocate()
        activeList.deallocate()
        spares.withLock { s in for i in s.ready.indices { weft_afp_close(&s.ready[i]) } }
    }

    /// Tops the spare pool up to its target on a background queue.
    public func refillSpares() {
        let missing = spares.withLock { s -> Int in
            let n = max(0, spareTarget - s.ready.count - s.preparing)
            s.preparing += n
            return n
        }
        let c = config
        for _ in 0..<missing {
            preparer.async { [weak self] in
                var ring = weft_afp_ring()
                var err = [CChar](repeating: 0, count: 256)
                let ok = weft_afp_prepare(c.ringVersion, c.rxBlockSize, c.rxBlockCount, c.rxRetireMs, c.txFrames,
                                          &ring, &err, err.count) == 0
                guard let self else { if ok { weft_afp_close(&ring) }; return }
                self.spares.withLock { s in
                    s.preparing -= 1
                    if ok { s.ready.append(ring) }
                }
            }
        }
    }

    /// Spare sockets ready now (tests, diagnostics).
    public var spareCount: Int { spares.withLock { $0.ready.count } }

    /// Opens `name` (sockets only; the caller registers the interface and
    /// then calls `activate`). Returns the port slot.
    public func open(name: String) throws -> Int32 {
        guard let slot = (0..<AfPacketPorts.capacity).first(where: { !ports[$0].active && ports[$0].ring.map == nil }) else {
            throw AfPacketError.full
        }
        var err = [CChar](repeating: 0, count: 256)
        var ring = weft_afp_ring()
        if let spare = spares.withLock({ $0.ready.popLast() }) {
            ring = spare
            let rc = weft_afp_bind(&ring, name, &err, err.count)
            refillSpares()
            if rc != 0 {
                weft_afp_close(&ring)
                throw AfPacketError.open(errno: -rc, message: String(cString: err))
            }
        } else {
            let rc = weft_afp_open(name, config.ringVersion, config.rxBlockSize, config.rxBlockCount, config.rxRetireMs,
                                   config.txFrames, &ring, &err, err.count)
            refillSpares()
            if rc != 0 { throw AfPacketError.open(errno: -rc, message: String(cString: err)) }
        }
        ports[slot] = AfPacketPort()
        ports[slot].ring = ring
        return Int32(slot)
    }

    public func mac(_ slot: Int32) -> [UInt8] {
        withUnsafeBytes(of: ports[Int(slot)].ring.mac) { Array($0) }
    }

    public func mtu(_ slot: Int32) -> Int { Int(ports[Int(slot)].ring.mtu) }

    /// Starts polling the port (under the barrier).
    public func activate(_ slot: Int32, swIfIndex: UInt32) {
        ports[Int(slot)].swIfIndex = swIfIndex
        ports[Int(slot)].active = true
        rebuildActiveList()
    }

    /// Stops polling and closes the sockets (under the barrier).
    public func close(_ slot: Int32) {
        var ring = detach(slot)
        if ring.map != nil { weft_afp_close(&ring) }
    }

    /// Stops polling and frees the slot (under the barrier), handing back the
    /// still-open rings for the caller to close later: closing a packet socket
    /// waits for an RCU grace period (tens of ms) that need not stall anyone.
    public func detach(_ slot: Int32) -> weft_afp_ring {
        let i = Int(slot)
        let ring = ports[i].ring
        ports[i] = AfPacketPort()
        rebuildActiveList()
        return ring
    }

    public var descriptors: [Int32] {
        (0..<activeCount).map { ports[Int(activeList[$0])].ring.fd }
    }

    private func rebuildActiveList() {
        activeCount = 0
        for i in 0..<AfPacketPorts.capacity where ports[i].active {
            activeList[activeCount] = Int32(i)
            activeCount += 1
        }
    }

    /// Accumulates the kernel's rx-ring drop counts (housekeeping).
    @discardableResult
    public func collectKernelDrops(into interfaces: InterfaceTable) -> UInt64 {
        var total: UInt64 = 0
        for k in 0..<activeCount {
            let i = Int(activeList[k])
            let d = UInt64(weft_afp_rx_drops(ports[i].ring.fd))
            ports[i].kernelDrops &+= d
            interfaces.drops[Int(ports[i].swIfIndex)] &+= d
            total &+= d
        }
        return total
    }
}
