import WeftEngine

/// IPv4 addresses known to live behind exactly one interface of a bridge
/// domain: each guarded container's address (its attachment says it) and each
/// gateway's (the BVI). l2-fwd sends a broadcast ARP request for one of them to
/// that interface alone instead of flooding it to every port of the domain.
///
/// Why: on a node with N pods every ARP request cost N transmits (N system
/// calls, each running the receiving pod's stack inline); a pod's first packet
/// to its gateway or a neighbour is one of them. VPP's bridge domains have
/// the same idea as `arp-term`, Calico gets it by routing /32s.
///
/// Open addressing with linear probing, keyed by domain and address, written
/// only by the control thread under the worker barrier; lookups are two loads.
public final class ArpTargetTable {
    /// Room for one address per interface at half load.
    public static let slots = InterfaceTable.capacity * 2
    private static let mask = slots - 1
    /// The top log2(slots) bits of the multiplicative hash pick the home slot.
    private static let shift = UInt64(64 - (slots.trailingZeroBitCount))
    /// (domain << 32 | address), 0 = empty (address 0 is never stored).
    let keys: UnsafeMutablePointer<UInt64>
    let interfaces: UnsafeMutablePointer<UInt32>
    public private(set) var count = 0

    public init() {
        precondition(Self.slots.nonzeroBitCount == 1, "slots must be a power of two")
        keys = .allocate(capacity: Self.slots)
        keys.initialize(repeating: 0, count: Self.slots)
        interfaces = .allocate(capacity: Self.slots)
        interfaces.initialize(repeating: 0, count: Self.slots)
    }

    deinit { keys.deallocate(); interfaces.deallocate() }

    @inline(__always)
    static func key(domain: UInt32, address: UInt32) -> UInt64 { UInt64(domain) << 32 | UInt64(address) }

    @inline(__always)
    static func home(_ key: UInt64) -> Int { Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) >> shift) }

    /// The interface that owns `address` in `domain`, or nil.
    @inline(__always)
    public func find(domain: UInt32, address: UInt32) -> UInt32? {
        let k = Self.key(domain: domain, address: address)
        var s = Self.home(k)
        while true {
            let here = keys[s]
            if here == k { return interfaces[s] }
            if here == 0 { return nil }
            s = (s &+ 1) & Self.mask
        }
    }

    /// `address` in `domain` is `interface`'s (replacing an earlier owner).
    /// False when the table is full or the address is 0.
    @discardableResult
    public func set(domain: UInt32, address: UInt32, interface: UInt32) -> Bool {
        guard address != 0 else { return false }
        let k = Self.key(domain: domain, address: address)
        var s = Self.home(k)
        while keys[s] != 0 && keys[s] != k { s = (s &+ 1) & Self.mask }
        if keys[s] == 0 {
            guard count < Self.slots / 2 else { return false }
            count += 1
        }
        keys[s] = k
        interfaces[s] = interface
        return true
    }

    /// Forgets every address of `interface` (it left its domain).
    public func removeAll(interface: UInt32) {
        var kept: [(UInt64, UInt32)] = []
        var removed = false
        for s in 0..<Self.slots where keys[s] != 0 {
            if interfaces[s] == interface { removed = true } else { kept.append((keys[s], interfaces[s])) }
        }
        guard removed else { return }
        // Rebuild: linear probing has no holes to leave behind (rare, under the barrier).
        keys.update(repeating: 0, count: Self.slots)
        count = 0
        for (k, i) in kept { set(domain: UInt32(k >> 32), address: UInt32(truncatingIfNeeded: k), interface: i) }
    }
}
