import Foundation

// Follows a MAC the container gave its own interface after the attachment.
// CNI chaining does this (`tuning` with "mac" runs after weft's ADD and sets
// the address on eth0), and so does anyone with CAP_NET_ADMIN in the pod
// (`ip link set eth0 address ...`). The source guard still holds the MAC
// weftd chose, so every frame the pod sends is dropped as
// l2-input/spoofed-mac, silently, until weftd learns the new one.
//
// l2-input flags a guarded port that sent from a foreign MAC; `poll` (on a
// short timer, control thread) reads the flags and, for each flagged
// attachment, reads the MAC its interface has now inside its namespace. A
// changed MAC moves the guard and the stored record (so a recreated veth
// gets it too). A frame merely forged leaves the interface's MAC as it was,
// and is ignored: the guard's purpose stays. A new MAC another attachment of
// the same network already uses is refused (logged and counted): following
// it would let one pod take over another's frames; so is the MAC of any of
// weftd's interfaces (the gateway's) or one the bridge domain learned on
// another port.
//
// `refresh` does the same for one attachment on request (weft-cni CHECK), so
// a pod that has not sent since the change is checked against what it will
// be allowed to send.

public final class SourceGuardFollower {
    let store: StateStore
    let dataplane: Dataplane
    let provisioner: VethProvisioner
    let log: WeftLogger
    /// A port that keeps sending forged frames costs one look per interval.
    let minimumInterval: Duration
    private var lastLook: [String: ContinuousClock.Instant] = [:]
    private var refusedMAC: [String: String] = [:]

    public private(set) var totals = Totals()

    public struct Totals: Equatable, Sendable {
        /// Guards moved to the container's new MAC.
        public var followed = 0
        /// Flagged ports whose interface still has the guarded MAC (forged frames).
        public var forged = 0
        /// New MACs not followed (another attachment's, multicast, zero).
        public var refused = 0
        /// Looks that failed (logged; the next flagged frame retries).
        public var failures = 0
    }

    public init(store: StateStore, dataplane: Dataplane, provisioner: VethProvisioner, log: WeftLogger = .shared,
                minimumInterval: Duration = .seconds(1)) {
        self.store = store; self.dataplane = dataplane; self.provisioner = provisioner; self.log = log
        self.minimumInterval = minimumInterval
    }

    /// Looks at the ports l2-input flagged since the last poll. Control thread.
    public func poll() {
        let flagged = dataplane.takeSourceGuardMisses()
        guard !flagged.isEmpty else { return }
        let now = ContinuousClock.now
        lastLook = lastLook.filter { now - $0.value < minimumInterval }
        for hostIfName in flagged where lastLook[hostIfName] == nil {
            lastLook[hostIfName] = now
            do {
                guard let record = try store.attachment(hostIfName: hostIfName), record.sourceGuard else { continue }
                if case .unchanged = try follow(record).outcome {
                    totals.forged += 1
                    log.debug("source guard: \(record.containerId)/\(record.ifName) sent from a MAC not its own; its interface still has \(record.mac), frames dropped")
                }
            } catch {
                totals.failures += 1
                log.error("source guard: looking at \(hostIfName)'s container interface failed: \(error)")
            }
        }
    }

    public enum Outcome: Equatable, Sendable {
        case unchanged, followed, refused(String), linkGone
    }

    /// Follows a changed MAC of `record`'s container interface, if any.
    /// Returns the record as it is now and what happened.
    @discardableResult
    public func follow(_ record: AttachmentRecord) throws -> (record: AttachmentRecord, outcome: Outcome) {
        let name = "\(record.containerId)/\(record.ifName)"
        guard let bytes = try provisioner.containerLinkMAC(netnsPath: record.netns, ifName: record.ifName) else {
            return (record, .linkGone)   // AttachmentWatch deals with it
        }
        let current = InterfaceIdentity.format(mac: bytes)
        guard current != record.mac.lowercased() else { return (record, .unchanged) }
        if let reason = try refusal(of: bytes, current, for: record) {
            totals.refused += 1
            // Once per new MAC: a refused pod keeps sending, and is flagged each time.
            guard refusedMAC[record.hostIfName] != current else { return (record, .refused(reason)) }
            refusedMAC[record.hostIfName] = current
            log.warning("source guard: \(name) changed its MAC from \(record.mac) to \(current); not followed: \(reason). Its frames are dropped as l2-input/spoofed-mac")
            return (record, .refused(reason))
        }
        refusedMAC[record.hostIfName] = nil
        var updated = record
        updated.mac = current
        if let spec = try AttachmentService.sourceGuard(for: updated) {
            try dataplane.setSourceGuard(hostIfName: record.hostIfName, sourceGuard: spec)
        }
        try store.updateAttachmentMAC(containerId: record.containerId, ifName: record.ifName, mac: current)
        totals.followed += 1
        log.info("source guard: \(name) changed its MAC from \(record.mac) to \(current) (CNI chaining, e.g. tuning's \"mac\"); the guard follows")
        return (updated, .followed)
    }

    private func refusal(of bytes: [UInt8], _ mac: String, for record: AttachmentRecord) throws -> String? {
        if bytes.allSatisfy({ $0 == 0 }) { return "it is all zeros" }
        if bytes[0] & 1 == 1 { return "it is a multicast address" }
        if let other = try store.attachments().first(where: {
            $0.network == record.network && $0.mac.lowercased() == mac
                && ($0.containerId, $0.ifName) != (record.containerId, record.ifName)
        }) {
            return "attachment \(other.containerId)/\(other.ifName) of network \(record.network) has that MAC"
        }
        // The gateway's, the uplink's, a host interface's: taking it would draw their frames.
        if let port = dataplane.interfaces().first(where: { $0.name != record.hostIfName && $0.mac.lowercased() == mac }) {
            return "it is the MAC of weftd's interface \(port.name)"
        }
        // A host behind another port of the bridge domain (a tunnel, a host interface).
        if let domain = try store.network(named: record.network)?.bridgeDomain,
           let entry = dataplane.bridgeDomains(detail: true).first(where: { $0.id == UInt32(domain) })?.macs?
               .first(where: { $0.interface != record.hostIfName && $0.mac.lowercased() == mac }) {
            return "the network's bridge domain learned it on \(entry.interface)"
        }
        return nil
    }
}
