import WeftL2

/// Bandwidth limits (CNI bandwidth capability) as dataplane policers: see
/// PolicerTable and docs/bandwidth.md.
extension EngineDataplane {
    public func setBandwidth(hostIfName: String, limits: BandwidthLimits?) throws {
        guard let i = interfaceTable.index(named: hostIfName) else {
            throw DataplaneError.notFound("interface \(hostIfName) is not in the dataplane")
        }
        func bits(_ value: Int64?) -> UInt64 { value.map { UInt64(clamping: $0) } ?? 0 }
        let policer = l2.policer
        worker.withBarrier {
            // A direction is limited when it has a rate (the API insists on a burst with it).
            policer.set(i, .ingress, rateBitsPerSecond: bits(limits?.ingressRate), burstBits: bits(limits?.ingressBurst))
            policer.set(i, .egress, rateBitsPerSecond: bits(limits?.egressRate), burstBits: bits(limits?.egressBurst))
        }
    }
}
