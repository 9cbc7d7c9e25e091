import Foundation

/// Frees everything an attachment holds, in an order a retry can resume from:
/// its published ports (NAT mappings), its dataplane interface, its veth or
/// tap, then the record (and with it the lease). Parts already gone are
/// skipped. One function for the three callers that used to carry their own
/// copy (and drifted: one forgot the NAT mappings): a detach, the attachment
/// watch finding a container gone, and the reconciler finding one gone at start.
struct AttachmentRelease {
    /// How a failure to leave the dataplane is taken: a detach keeps the
    /// attachment so that it can be retried (`.keep`); when the container is
    /// gone there is nobody to retry for, so it is logged and the rest freed
    /// (`.logAndContinue`).
    enum DataplaneFailure { case keep, logAndContinue }

    /// What was freed.
    struct Outcome {
        /// "proto/port" of each NAT mapping removed with it.
        var natMappings: [String] = []
        /// The veth or tap still existed and was deleted.
        var kernelPartExisted = false
        /// Where the time went (dataplane, kernel, store), for the log.
        var timing = ""
    }

    let store: StateStore
    let dataplane: Dataplane
    let provisioner: VethProvisioner
    let log: WeftLogger

    func release(_ record: AttachmentRecord, dataplaneFailure: DataplaneFailure) throws -> Outcome {
        var outcome = Outcome()
        let name = "\(record.containerId)/\(record.ifName)"
        let started = ContinuousClock.now
        let owned = try store.natMappings().filter { $0.containerId == record.containerId && $0.internalAddress == record.address }
        _ = try NATService(store: store, dataplane: dataplane, log: log)
            .deleteMappings(containerId: record.containerId, address: record.address)
        outcome.natMappings = owned.map { "\($0.protocol)/\($0.externalPort)" }
        do {
            try dataplane.removeInterface(hostIfName: record.hostIfName)
        } catch DataplaneError.notFound {
            log.debug("release \(name): \(record.hostIfName) was not in the dataplane")
        } catch {
            switch dataplaneFailure {
            case .keep:
                throw ControlError.wrap(error, code: "dataplane_error", context: "removing \(record.hostIfName) from the dataplane")
            case .logAndContinue:
                log.warning("release \(name): removing \(record.hostIfName) from the dataplane: \(error)")
            }
        }
        let unplugged = ContinuousClock.now
        // A tap lives in the container: with its namespace gone there is nothing to delete.
        let kernelPart = record.isTap ? "tap \(record.ifName) in \(record.netns)" : "veth \(record.hostIfName)"
        do {
            outcome.kernelPartExisted = record.isTap ? try provisioner.deleteTap(netnsPath: record.netns, ifName: record.ifName)
                                                     : try provisioner.deleteVeth(hostIfName: record.hostIfName)
            if !outcome.kernelPartExisted { log.debug("release \(name): \(kernelPart) was already gone") }
        } catch {
            throw AttachmentService.kernelError(error, doing: "deleting \(kernelPart)",
                                                outcome: "the attachment is kept (already out of the dataplane); the detach can be retried")
        }
        let deleted = ContinuousClock.now
        try store.deleteAttachment(containerId: record.containerId, ifName: record.ifName)
        outcome.timing = AttachmentService.phases([("dataplane", started, unplugged), ("kernel", unplugged, deleted), ("store", deleted, .now)])
        return outcome
    }
}
