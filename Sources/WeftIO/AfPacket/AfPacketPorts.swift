import CShims
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
    public var rxBlockSize: UInt32 = 1 << 17
    public var rxBlockCount: UInt32 = 32
    public var rxRetireMs: UInt32 = 1
    public var txFrames: UInt32 = 1024
    public init() {}
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

    public init(config: AfPacketConfig = AfPacketConfig()) {
        self.config = config
        ports = .allocate(capacity: AfPacketPorts.capacity)
        ports.initialize(repeating: AfPacketPort(), count: AfPacketPorts.capacity)
        activeList = .allocate(capacity: AfPacketPorts.capacity)
    }

    deinit {
        for i in 0..<AfPacketPorts.capacity where ports[i].active { weft_afp_close(&ports[i].ring) }
        ports.deallocate()
        activeList.deallocate()
    }

    /// Opens `name` (sockets only; the caller registers the interface and
    /// then calls `activate`). Returns the port slot.
    public func open(name: String) throws -> Int32 {
        guard let slot = (0..<AfPacketPorts.capacity).first(where: { !ports[$0].active && ports[$0].ring.map == nil }) else {
            throw AfPacketError.full
        }
        var ring = weft_afp_ring()
        var err = [CChar](repeating: 0, count: 256)
        let rc = weft_afp_open(name, config.ringVersion, config.rxBlockSize, config.rxBlockCount, config.rxRetireMs, config.txFrames, &ring, &err, err.count)
        if rc != 0 { throw AfPacketError.open(errno: -rc, message: String(cString: err)) }
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
        let i = Int(slot)
        if ports[i].ring.map != nil { weft_afp_close(&ports[i].ring) }
        ports[i] = AfPacketPort()
        rebuildActiveList()
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
