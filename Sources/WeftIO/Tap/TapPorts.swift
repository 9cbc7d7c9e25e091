#if canImport(Glibc)
import Glibc
#endif
import CShims
import WeftEngine

/// One TAP port: the queues (file descriptors) weftd holds on a TAP device
/// and whether each still works. A plain struct in a flat array, reached per
/// packet without retaining anything.
public struct TapPort {
    public var swIfIndex: UInt32 = 0
    public var active = false
    public var queueCount: Int32 = 0
    /// Queue fds, WEFT_TAP_MAX_QUEUES of them (-1 past queueCount).
    public var fds: (Int32, Int32, Int32, Int32, Int32, Int32, Int32, Int32) = (-1, -1, -1, -1, -1, -1, -1, -1)
    /// Queues whose reads failed for good (the device went away with its
    /// namespace): bit per queue; they are no longer read or polled.
    public var deadQueues: UInt32 = 0

    @inline(__always)
    func fd(_ q: Int) -> Int32 {
        withUnsafeBytes(of: fds) { $0.load(fromByteOffset: q &* 4, as: Int32.self) }
    }
}

public enum TapError: Error, CustomStringConvertible {
    case full
    case badQueues(Int)
    public var description: String {
        switch self {
        case .full: return "tap: too many ports"
        case .badQueues(let n): return "tap: \(n) queues (1...\(Int(WEFT_TAP_MAX_QUEUES)))"
        }
    }
}

/// The TAP ports of one worker. The control thread adds and removes them
/// under the worker barrier; tap-input and tap-output read them.
public final class TapPorts {
    public static let capacity = 1024
    public static let maxQueues = Int(WEFT_TAP_MAX_QUEUES)
    public let ports: UnsafeMutablePointer<TapPort>
    let activeList: UnsafeMutablePointer<Int32>
    public private(set) var activeCount = 0

    public init() {
        ports = .allocate(capacity: TapPorts.capacity)
        ports.initialize(repeating: TapPort(), count: TapPorts.capacity)
        activeList = .allocate(capacity: TapPorts.capacity)
    }

    deinit {
        for i in 0..<TapPorts.capacity where ports[i].queueCount > 0 { closeQueues(Int32(i)) }
        ports.deallocate()
        activeList.deallocate()
    }

    /// Takes ownership of `fds` (one per queue, non-blocking, virtio-net
    /// header on) and returns the port slot. On error the fds are closed.
    public func add(queueFds fds: [Int32]) throws -> Int32 {
        guard (1...TapPorts.maxQueues).contains(fds.count) else {
            fds.forEach { _ = Glibc.close($0) }
            throw TapError.badQueues(fds.count)
        }
        guard let slot = (0..<TapPorts.capacity).first(where: { ports[$0].queueCount == 0 }) else {
            fds.forEach { _ = Glibc.close($0) }
            throw TapError.full
        }
        var port = TapPort()
        withUnsafeMutableBytes(of: &port.fds) { raw in
            for (q, fd) in fds.enumerated() { raw.storeBytes(of: fd, toByteOffset: q * 4, as: Int32.self) }
        }
        port.queueCount = Int32(fds.count)
        ports[slot] = port
        return Int32(slot)
    }

    /// Starts polling the port (under the barrier).
    public func activate(_ slot: Int32, swIfIndex: UInt32) {
        ports[Int(slot)].swIfIndex = swIfIndex
        ports[Int(slot)].active = true
        rebuildActiveList()
    }

    /// Stops polling the port and frees its slot (under the barrier); the
    /// returned fds are the caller's to close.
    public func detach(_ slot: Int32) -> [Int32] {
        let port = ports[Int(slot)]
        let fds = (0..<Int(port.queueCount)).map { port.fd($0) }
        ports[Int(slot)] = TapPort()
        rebuildActiveList()
        return fds
    }

    public func queueCount(_ slot: Int32) -> Int { Int(ports[Int(slot)].queueCount) }

    /// Live queue fds of active ports: what an idle worker waits on.
    public var descriptors: [Int32] {
        var out: [Int32] = []
        for k in 0..<activeCount {
            let p = ports[Int(activeList[k])]
            for q in 0..<Int(p.queueCount) where p.deadQueues & (1 << UInt32(q)) == 0 { out.append(p.fd(q)) }
        }
        return out
    }

    private func closeQueues(_ slot: Int32) {
        for fd in detach(slot) { _ = Glibc.close(fd) }
    }

    private func rebuildActiveList() {
        activeCount = 0
        for i in 0..<TapPorts.capacity where ports[i].active {
            activeList[activeCount] = Int32(i)
            activeCount += 1
        }
    }
}
