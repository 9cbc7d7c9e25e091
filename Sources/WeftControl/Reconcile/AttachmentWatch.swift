// Notices, while weftd runs, what the reconciler would notice at the next
// start: a container whose network namespace was deleted behind weftd's back
// (its runtime died, or someone ran `ip netns del`) and a host veth or a TAP
// deleted by hand. Without it the first leaks an address and a dataplane port
// until a restart, and the second leaves a container silently cut off.
//
// One sweep is a few syscalls per attachment (open the netns, look the link
// up); weftd runs one every couple of seconds on the control thread, so it is
// serialised with API requests and never races an attach or a detach.

public final class AttachmentWatch {
    let store: StateStore
    let dataplane: Dataplane
    let provisioner: VethProvisioner
    let log: WeftLogger

    /// What the sweeps did since start (also in the log, one line per action).
    public private(set) var totals = Totals()

    public struct Totals: Equatable, Sendable {
        /// Attachments removed because their network namespace was gone.
        public var netnsGone = 0
        /// veths / TAPs recreated after being deleted by hand.
        public var linksRecreated = 0
        /// Repairs that failed (logged; retried by the next sweep).
        public var failures = 0
    }

    public init(store: StateStore, dataplane: Dataplane, provisioner: VethProvisioner, log: WeftLogger = .shared) {
        self.store = store; self.dataplane = dataplane; self.provisioner = provisioner; self.log = log
    }

    /// One pass over all attachments. Call on the control thread.
    @discardableResult
    public func sweep() -> Totals {
        var done = Totals()
        let attachments: [AttachmentRecord]
        do { attachments = try store.attachments() } catch {
            log.error("attachment watch: reading the store failed: \(error)")
            done.failures += 1
            return record(done)
        }
        // One dump of weftd's links instead of one lookup per veth.
        let links = provisioner.linkNames()
        for attachment in attachments {
            let name = "\(attachment.containerId)/\(attachment.ifName)"
            do {
                if !provisioner.netnsExists(attachment.netns) {
                    try removeOrphan(attachment)
                    done.netnsGone += 1
                    let released = attachment.ownsLease ? "released \(attachment.address)" : "forgot external address \(attachment.address)"
                    log.warning("attachment \(name): netns \(attachment.netns) is gone; detached it and \(released)")
                } else if !linkAlive(attachment, links: links) {
                    try recreate(attachment)
                    done.linksRecreated += 1
                    let what = attachment.isTap ? "tap \(attachment.ifName) in \(attachment.netns)" : "veth \(attachment.hostIfName)"
                    log.warning("attachment \(name): \(what) was deleted behind weftd's back; recreated it")
                }
            } catch {
                done.failures += 1
                log.error("attachment watch: repairing \(name) failed, retrying next sweep: \(error)")
            }
        }
        return record(done)
    }

    private func record(_ done: Totals) -> Totals {
        totals.netnsGone += done.netnsGone
        totals.linksRecreated += done.linksRecreated
        totals.failures += done.failures
        return done
    }

    private func linkAlive(_ attachment: AttachmentRecord, links: Set<String>?) -> Bool {
        if attachment.isTap { return provisioner.containerLinkExists(netnsPath: attachment.netns, ifName: attachment.ifName) }
        // Missing from the dump: ask once more by name, so a link created
        // between the dump and now is not taken for gone.
        if let links, links.contains(attachment.hostIfName) { return true }
        return provisioner.linkExists(attachment.hostIfName)
    }

    /// The container is gone, so nobody will detach it: free everything it held
    /// (a host end left in weftd's namespace included: the pair outlives the
    /// namespace if it was moved).
    private func removeOrphan(_ attachment: AttachmentRecord) throws {
        _ = try AttachmentRelease(store: store, dataplane: dataplane, provisioner: provisioner, log: log)
            .release(attachment, dataplaneFailure: .logAndContinue)
    }

    /// Same name, MAC and address as before (the record says them), so the
    /// container sees its interface come back as it was.
    private func recreate(_ attachment: AttachmentRecord) throws {
        guard let network = try store.network(named: attachment.network) else {
            throw ControlError(.internal, code: "network_not_found", message: "network \(attachment.network) of the attachment is gone")
        }
        removeFromDataplane(attachment)
        let spec = try AttachmentService.vethSpec(for: attachment, dataplane: dataplane)
        var tapFds: [Int32]?
        if attachment.isTap {
            tapFds = try provisioner.createTap(spec, queues: attachment.queues)
        } else {
            // Deleting one end took the other with it; any half left is ours to replace.
            if provisioner.containerLinkExists(netnsPath: attachment.netns, ifName: attachment.ifName) {
                throw ControlError(.conflict, code: "ifname_exists",
                                   message: "netns \(attachment.netns) has a link \(attachment.ifName) that is not weftd's veth; remove it or detach the attachment")
            }
            _ = try provisioner.createVeth(spec)
        }
        do {
            try AttachmentService.plug(attachment, bridgeDomain: UInt32(network.bridgeDomain), tapFds: tapFds, dataplane: dataplane)
        } catch {
            // Take the new link away again: a link that exists but is not
            // plugged would look healthy to the next sweep and never be retried.
            removeFromDataplane(attachment)
            if tapFds != nil {
                // The queue fds are the dataplane's from addTapInterface on (closed by it on failure).
                _ = try? provisioner.deleteTap(netnsPath: attachment.netns, ifName: attachment.ifName)
            } else {
                _ = try? provisioner.deleteVeth(hostIfName: attachment.hostIfName)
            }
            throw error
        }
    }

    private func removeFromDataplane(_ attachment: AttachmentRecord) {
        do {
            try dataplane.removeInterface(hostIfName: attachment.hostIfName)
        } catch DataplaneError.notFound {
        } catch {
            log.warning("attachment watch: removing \(attachment.hostIfName) from the dataplane: \(error)")
        }
    }
}
