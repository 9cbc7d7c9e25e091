// Picks the address for a new attachment. Pure logic: the caller (the
// state store) runs it inside the write transaction that records the lease,
// so two attachments can never be handed the same address.

public enum AddressAllocator {
    /// The lowest assignable address of `subnet` not in `leased`, or nil when
    /// the subnet is exhausted. Network, broadcast and the first host
    /// (reserved gateway) are never returned.
    public static func lowestFree(in subnet: IPv4Subnet, leased: Set<IPv4Address>) -> IPv4Address? {
        // Linear in the number of leases, not the subnet size: at most
        // leased.count addresses can be skipped before a free one is found.
        for candidate in subnet.assignableRange {
            let address = IPv4Address(candidate)
            if !leased.contains(address) { return address }
        }
        return nil
    }
}
