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
    /// Set to 1 by l2-input (worker) when a guarded interface sent a frame from
    /// another MAC; read and cleared by the control thread (`takeMACMisses`),
    /// which then looks at the container's interface: a MAC changed inside the
    /// container after the attachment (CNI chaining, e.g. tuning's `mac`) is
    /// followed, a frame merely forged is not. A byte store per spoofed frame;
    /// a miss cleared while the worker sets it again is seen at the next one.
    public let macMiss: UnsafeMutablePointer<UInt8>

    public init() {
        mac = .allocate(capacity: InterfaceTable.capacity)
        mac.initialize(repeating: 0, count: InterfaceTable.capacity)
        ipv4 = .allocate(capacity: InterfaceTable.capacity)
        ipv4.initialize(repeating: 0, count: InterfaceTable.capacity)
        macMiss = .allocate(capacity: InterfaceTable.capacity)
        macMiss.initialize(repeating: 0, count: InterfaceTable.capacity)
    }

    deinit { mac.deallocate(); ipv4.deallocate(); macMiss.deallocate() }

    /// Guards `interface`: frames must come from `mac`, IPv4 and ARP from `ipv4`.
    public func set(_ interface: UInt32, mac: UInt64, ipv4: UInt32) {
        self.mac[Int(interface)] = mac
        self.ipv4[Int(interface)] = ipv4
    }

    public func clear(_ interface: UInt32) { set(interface, mac: 0, ipv4: 0); macMiss[Int(interface)] = 0 }

    /// Interfaces that sent from a foreign MAC since the last call (control
    /// thread; no barrier needed: a lost or extra miss costs one look).
    public func takeMACMisses() -> [UInt32] {
        var found: [UInt32] = []
        for i in 0..<InterfaceTable.capacity where macMiss[i] != 0 {
            macMiss[i] = 0
            if mac[i] != 0 { found.append(UInt32(i)) }
        }
        return found
    }

    public func isGuarded(_ interface: UInt32) -> Bool { mac[Int(interface)] != 0 }
}
