import WeftL2

// The source guard after an attachment is made: l2-input flags a guarded
// port that sent from a foreign MAC; the control plane reads the flags and
// may move the guard to the MAC the container's interface has now
// (SourceGuardFollower).

extension EngineDataplane {
    public func setSourceGuard(hostIfName: String, sourceGuard: SourceGuardSpec) throws {
        guard let i = interfaceTable.index(named: hostIfName) else {
            throw DataplaneError.notFound("interface \(hostIfName) is not in the dataplane")
        }
        worker.withBarrier { applySourceGuard(i, sourceGuard) }
    }

    public func takeSourceGuardMisses() -> [String] {
        // Read on the control thread without the barrier: a flag set while it
        // is cleared is seen at the next frame (SourceGuardTable.macMiss).
        l2.sourceGuard.takeMACMisses().map { interfaceTable.name($0) }
    }
}
