import WeftEngine

/// UDP ports the router listens on, for ip4-local: destination port ->
/// graph node index, one flat 65536-entry table (-1: nobody; the packet gets
/// ICMP port unreachable). A feature registers its input node for a port
/// once per user of the port (VXLAN: once per tunnel) and unregisters as
/// often; the port is free again when the count drops to 0. Changed by the
/// control thread under the worker barrier.
public final class IP4LocalPorts {
    public static let portCount = 1 << 16

    /// Node index per UDP destination port, -1 when none (read by ip4-local).
    public let node: UnsafeMutablePointer<Int32>
    /// Registrations per port.
    let references: UnsafeMutablePointer<UInt32>

    public init() {
        node = .allocate(capacity: IP4LocalPorts.portCount)
        node.initialize(repeating: -1, count: IP4LocalPorts.portCount)
        references = .allocate(capacity: IP4LocalPorts.portCount)
        references.initialize(repeating: 0, count: IP4LocalPorts.portCount)
    }

    deinit { node.deallocate(); references.deallocate() }

    /// Sends UDP to `port` to node `target` (one more reference). False when
    /// the port already belongs to another node (nothing changes).
    @discardableResult
    public func register(port: UInt16, node target: Int32) -> Bool {
        precondition(target >= 0, "ip4-local ports: invalid node index")
        let p = Int(port)
        if references[p] > 0 && node[p] != target { return false }
        node[p] = target
        references[p] &+= 1
        return true
    }

    /// Drops one reference on `port`; the port is unassigned at 0.
    public func unregister(port: UInt16) {
        let p = Int(port)
        guard references[p] > 0 else { return }
        references[p] &-= 1
        if references[p] == 0 { node[p] = -1 }
    }

    /// The node for `port`, or nil.
    public func owner(port: UInt16) -> Int32? {
        let n = node[Int(port)]
        return n < 0 ? nil : n
    }

    /// Registrations held on `port`.
    public func referenceCount(port: UInt16) -> Int { Int(references[Int(port)]) }

    /// Ports with a listener, ascending.
    public var registeredPorts: [UInt16] {
        (0..<IP4LocalPorts.portCount).filter { references[$0] > 0 }.map { UInt16($0) }
    }
}
