// Picks the address for a new attachment. Pure logic: the caller (the
// state store) runs it inside the write transaction that records the lease,
// so two attachments can never be handed the same address.

public enum AddressAllocator {
    /// The lowest assignable address of `subnet` not in `leased`, or nil when
    /// the subnet is exhausted. Network, broadcast and the first host
    /// (reserved gateway) are never returned.
    /// With `range` (a node's share of a network that spans nodes) only
    /// addresses inside it are handed out.
    public static func lowestFree(in subnet: IPv4Subnet, leased: Set<IPv4Address>,
                                  range: ClosedRange<UInt32>? = nil) -> IPv4Address? {
        var candidates = subnet.assignableRange
        if let range {
            let low = max(candidates.lowerBound, range.lowerBound), high = min(candidates.upperBound, range.upperBound)
            guard low <= high else { return nil }
            candidates = low...high
        }
        // Linear in the number of leases, not the subnet size: at most
        // leased.count addresses can be skipped before a free one is found.
        for candidate in candidates {
            let address = IPv4Address(candidate)
            if !leased.contains(address) { return address }
        }
        return nil
    }
}
