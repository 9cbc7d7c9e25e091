import WeftEngine

/// Anti-spoofing per interface (Calico's and OVS port security's idea): a
/// container may send only from its own MAC and, in IPv4 and ARP, from its
/// own address. l2-input checks it; the control plane sets it on every
/// attachment (under the barrier). A MAC of 0 means "no guard" (uplinks,
/// tunnels, BVIs, host interfaces: they carry other hosts' frames).
public final class SourceGuardTable {
    /// Allowed source MAC per interface (48 bits), 0 = not guarded.
    public let mac: UnsafeMutablePointer<UInt64>
    /// Allowed IPv4 source per interface (host order), 0 = any (MAC guard only).
    public let ipv4: UnsafeMutablePointer<UInt32>

    public init() {
        mac = .allocate(capacity: InterfaceTable.capacity)
        mac.initialize(repeating: 0, count: InterfaceTable.capacity)
        ipv4 = .allocate(capacity: InterfaceTable.capacity)
        ipv4.initialize(repeating: 0, count: InterfaceTable.capacity)
    }

    deinit { mac.deallocate(); ipv4.deallocate() }

    /// Guards `interface`: frames must come from `mac`, IPv4 and ARP from `ipv4`.
    public func set(_ interface: UInt32, mac: UInt64, ipv4: UInt32) {
        self.mac[Int(interface)] = mac
        self.ipv4[Int(interface)] = ipv4
    }

    public func clear(_ interface: UInt32) { set(interface, mac: 0, ipv4: 0) }

    public func isGuarded(_ interface: UInt32) -> Bool { mac[Int(interface)] != 0 }
}
