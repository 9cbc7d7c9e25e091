import WeftEngine

/// IPv4 settings per interface (sw_if_index), in flat arrays the ip4 nodes
/// index with `rxInterface` / `txInterface`: one address and prefix length
/// per interface in this step, the MAC the router uses on it, and the FIB
/// table its received packets are looked up in. Changed by `IP4Feature` on
/// the control thread under the barrier.
public final class IP4InterfaceTable {
    /// IPv4 processing on: set with an address. ip4-input and arp-input drop
    /// (counted) what arrives on an interface without one.
    public let enabled: UnsafeMutablePointer<Bool>
    public let address: UnsafeMutablePointer<UInt32>
    public let prefixLength: UnsafeMutablePointer<UInt8>
    /// Netmask of `prefixLength` (0 for /0).
    public let netmask: UnsafeMutablePointer<UInt32>
    /// The router's MAC on this interface (source of every frame it sends there).
    public let mac: UnsafeMutablePointer<UInt64>
    public let fibIndex: UnsafeMutablePointer<UInt32>
    /// Glean adjacency of the connected subnet (0 when none, e.g. a /32).
    public let glean: UnsafeMutablePointer<UInt32>
    /// IPv4 input feature: the graph index of a node ip4-input hands this
    /// interface's valid packets to instead of ip4-lookup (NAT44's
    /// nat44-in2out on inside interfaces, nat44-out2in on the uplink), or -1
    /// for none. The feature node sends them on to ip4-lookup itself.
    public let inputFeature: UnsafeMutablePointer<Int32>

    public init() {
        let n = InterfaceTable.capacity
        enabled = .allocate(capacity: n); enabled.initialize(repeating: false, count: n)
        address = .allocate(capacity: n); address.initialize(repeating: 0, count: n)
        prefixLength = .allocate(capacity: n); prefixLength.initialize(repeating: 0, count: n)
        netmask = .allocate(capacity: n); netmask.initialize(repeating: 0, count: n)
        mac = .allocate(capacity: n); mac.initialize(repeating: 0, count: n)
        fibIndex = .allocate(capacity: n); fibIndex.initialize(repeating: 0, count: n)
        glean = .allocate(capacity: n); glean.initialize(repeating: 0, count: n)
        inputFeature = .allocate(capacity: n); inputFeature.initialize(repeating: -1, count: n)
    }

    deinit {
        enabled.deallocate(); address.deallocate(); prefixLength.deallocate(); netmask.deallocate()
        mac.deallocate(); fibIndex.deallocate(); glean.deallocate(); inputFeature.deallocate()
    }

    /// True when `a` lies in the connected subnet of `interface` (and is not its own address).
    @inlinable @inline(__always)
    public func onLink(_ a: UInt32, interface i: Int) -> Bool {
        enabled[i] && a & netmask[i] == address[i] & netmask[i] && a != address[i]
    }
}
