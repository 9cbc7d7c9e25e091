import Foundation

// Plugs container interfaces into networks and unplugs them. An attach is a
// sequence of steps across three systems (state store, kernel, dataplane);
// any failure undoes the steps already done, in reverse, so a failed attach
// leaves nothing behind. Called only from the control thread.

public final class AttachmentService {
    let store: StateStore
    let dataplane: Dataplane
    let provisioner: VethProvisioner
    let log: WeftLogger
    /// What an attach request that does not say gets (weftd.yaml default_attach, default_driver).
    public var defaultAttach: AttachMode = .veth
    public var defaultDriver: PortDriver = .afPacket
    /// Moves a guard to a MAC the container set itself (weftd polls it; `refresh` asks it).
    public let sourceGuardFollower: SourceGuardFollower

    public init(store: StateStore, dataplane: Dataplane, provisioner: VethProvisioner, log: WeftLogger = .shared) {
        self.store = store; self.dataplane = dataplane; self.provisioner = provisioner; self.log = log
        sourceGuardFollower = SourceGuardFollower(store: store, dataplane: dataplane, provisioner: provisioner, log: log)
    }

    public func list() throws -> [AttachmentInfo] {
        let open = openInterfaces()
        return try store.attachments().map {
            AttachmentInfo($0, swIfIndex: open[$0.hostIfName]?.index, hostMac: open[$0.hostIfName]?.mac)
        }
    }

    public func get(containerId: String, ifName: String) throws -> AttachmentInfo {
        guard let record = try store.attachment(containerId: containerId, ifName: ifName) else {
            throw Self.notFound(containerId: containerId, ifName: ifName)
        }
        let open = openInterfaces()[record.hostIfName]
        return AttachmentInfo(record, swIfIndex: open?.index, hostMac: open?.mac)
    }

    /// Re-reads the container interface's MAC and follows a change (CNI
    /// chaining) at once, instead of at the pod's next frame: weft-cni CHECK
    /// asks before it compares. 409 when the new MAC is refused.
    public func refresh(containerId: String, ifName: String) throws -> AttachmentInfo {
        guard let record = try store.attachment(containerId: containerId, ifName: ifName) else {
            throw Self.notFound(containerId: containerId, ifName: ifName)
        }
        let (current, outcome) = try sourceGuardFollower.follow(record)
        if case .refused(let reason) = outcome {
            throw ControlError(.conflict, code: "mac_not_followed",
                               message: "\(containerId)/\(ifName) changed its MAC inside the container and weftd does not follow it: \(reason); set another MAC or detach and attach again")
        }
        let open = openInterfaces()[current.hostIfName]
        return AttachmentInfo(current, swIfIndex: open?.index, hostMac: open?.mac)
    }

    public func attach(_ request: CreateAttachmentRequest) throws -> AttachmentInfo {
        let ifName = request.ifName ?? FieldRules.defaultIfName
        try FieldRules.containerId(request.containerId)
        try FieldRules.ifName(ifName)
        try FieldRules.netnsPath(request.netns)
        try FieldRules.networkName(request.network, field: "network")
        if let mtu = request.mtu { try FieldRules.mtu(mtu) }
        let (mode, driver, queues) = try FieldRules.attachOptions(attach: request.attach, driver: request.driver, queues: request.queues,
                                                                     defaultAttach: defaultAttach, defaultDriver: defaultDriver)
        let started = ContinuousClock.now
        let bandwidth = try Self.validBandwidth(request.bandwidth)
        let address = try request.address.map(Self.parseAddress)
        let gateway = try request.gateway.map { text -> IPv4Address in
            guard let gateway = IPv4Address(text) else {
                throw ControlError.invalidField("gateway", "gateway \"\(text)\" is not an IPv4 address; write it like 10.1.0.1")
            }
            return gateway
        }

        // Cheap checks first, in the order a caller fixes them.
        if try store.attachment(containerId: request.containerId, ifName: ifName) != nil {
            throw ControlError(.conflict, code: "attachment_exists",
                               message: "container \"\(request.containerId)\" already has an interface \"\(ifName)\"; detach it first or pick another ifName",
                               field: "ifName")
        }
        guard try store.network(named: request.network) != nil else {
            throw ControlError(.notFound, code: "network_not_found",
                               message: "network \"\(request.network)\" does not exist; create it first", field: "network")
        }
        guard provisioner.netnsExists(request.netns) else {
            throw ControlError(.badRequest, code: "netns_not_found",
                               message: "netns \"\(request.netns)\" does not exist or is not a network namespace",
                               field: "netns")
        }

        // Step 1: attachment + lease, one transaction, committed before any
        // kernel change. If weftd dies during steps 2-3 the record exists and
        // the reconciler finishes (or cleans up) the attachment on restart;
        // the kernel never holds a veth the store does not know about.
        let record = try store.createAttachment(containerId: request.containerId, ifName: ifName,
                                                network: request.network, netns: request.netns, mtu: request.mtu,
                                                address: address?.address, addressPrefix: address?.prefix,
                                                gateway: gateway, attach: mode, driver: driver.rawValue, queues: queues,
                                                sourceGuard: request.sourceGuard ?? true, bandwidth: bandwidth)
        let recorded = ContinuousClock.now
        var undo: [(String, () throws -> Void)] = [("delete the attachment record", { [store] in
            try store.deleteAttachment(containerId: record.containerId, ifName: record.ifName)
        })]
        do {
            guard let network = try store.network(named: record.network) else {
                throw ControlError(.notFound, code: "network_not_found",
                                   message: "network \"\(record.network)\" was deleted during the attach", field: "network")
            }
            if record.isTap {
                return try attachTap(record, bridgeDomain: UInt32(network.bridgeDomain), undo: &undo)
            }
            // Step 2: the veth pair. A link with our name but no record is a
            // leftover of a failed rollback; the name is ours, so replace it.
            if provisioner.linkExists(record.hostIfName) {
                log.warning("attach \(record.containerId)/\(record.ifName): removing stale host interface \(record.hostIfName)")
                _ = try provisioner.deleteVeth(hostIfName: record.hostIfName)
            }
            let veth: VethResult
            do {
                veth = try provisioner.createVeth(Self.vethSpec(for: record, dataplane: dataplane))
            } catch {
                throw Self.kernelError(error, doing: "creating veth \(record.hostIfName) into \(record.netns)")
            }
            undo.append(("delete veth \(record.hostIfName)", { [provisioner] in
                _ = try provisioner.deleteVeth(hostIfName: record.hostIfName)
            }))
            let plumbed = ContinuousClock.now

            // Step 3: open the host end in the dataplane and bridge it.
            let swIfIndex: UInt32
            do {
                swIfIndex = try dataplane.addLinkInterface(hostIfName: record.hostIfName, bridgeDomain: UInt32(network.bridgeDomain),
                                                               driver: PortDriver(rawValue: record.driver) ?? .afPacket,
                                                               sourceGuard: try Self.sourceGuard(for: record))
            } catch {
                throw ControlError.wrap(error, code: "dataplane_error",
                                        context: "adding \(record.hostIfName) to bridge domain \(network.bridgeDomain)")
            }
            try applyBandwidth(record, undo: &undo)
            let source = record.ownsLease ? "" : " (external address)"
            let timing = Self.phases([("checks+store", started, recorded), ("veth", recorded, plumbed), ("dataplane", plumbed, .now)])
            log.info("attached \(record.containerId)/\(record.ifName) to \(record.network): \(record.address)/\(record.prefixLength)\(source) mac \(record.mac) host \(record.hostIfName) sw_if_index \(swIfIndex) in \(timing)")
            return AttachmentInfo(record, swIfIndex: swIfIndex, hostMac: InterfaceIdentity.format(mac: veth.hostMac))
        } catch {
            for (what, step) in undo.reversed() {
                do { try step() } catch let cleanup {
                    log.error("attach \(record.containerId)/\(record.ifName) rollback: could not \(what): \(cleanup)")
                }
            }
            throw ControlError.wrap(error, code: "attach_failed", context: "attaching \(record.containerId)/\(record.ifName)")
        }
    }

    /// Steps 2-3 of a tap attachment: the TAP device inside the container
    /// (configured there like a veth's container end), then its queues handed
    /// to the dataplane under the attachment's host interface name.
    private func attachTap(_ record: AttachmentRecord, bridgeDomain: UInt32,
                           undo: inout [(String, () throws -> Void)]) throws -> AttachmentInfo {
        let spec = try Self.vethSpec(for: record, dataplane: dataplane)
        let fds: [Int32]
        do {
            fds = try provisioner.createTap(spec, queues: record.queues)
        } catch let e as NetnsError where e.errno == EEXIST {
            throw ControlError(.conflict, code: "ifname_exists",
                               message: "netns \(record.netns) already has a link named \(record.ifName): a tap attachment creates that interface itself; pick another ifName",
                               field: "ifName")
        } catch {
            throw Self.kernelError(error, doing: "creating tap \(record.ifName) in \(record.netns)")
        }
        undo.append(("delete tap \(record.ifName) in \(record.netns)", { [provisioner] in
            _ = try provisioner.deleteTap(netnsPath: record.netns, ifName: record.ifName)
        }))
        let swIfIndex: UInt32
        do {
            swIfIndex = try dataplane.addTapInterface(name: record.hostIfName, bridgeDomain: bridgeDomain, queueFds: fds,
                                                      mac: spec.mac, mtu: record.mtu, sourceGuard: try Self.sourceGuard(for: record))
        } catch {
            throw ControlError.wrap(error, code: "dataplane_error",
                                    context: "adding tap \(record.hostIfName) to bridge domain \(bridgeDomain)")
        }
        try applyBandwidth(record, undo: &undo)
        let source = record.ownsLease ? "" : " (external address)"
        log.info("attached \(record.containerId)/\(record.ifName) to \(record.network) by tap (\(record.queues) queue(s)): \(record.address)/\(record.prefixLength)\(source) mac \(record.mac) sw_if_index \(swIfIndex)")
        return AttachmentInfo(record, swIfIndex: swIfIndex, hostMac: record.mac)
    }

    /// Unplugs an attachment and frees its address. Parts already gone (the
    /// dataplane interface, the veth) are skipped, so a retried detach after
    /// a partial failure completes.
    public func detach(containerId: String, ifName: String) throws {
        guard let record = try store.attachment(containerId: containerId, ifName: ifName) else {
            throw Self.notFound(containerId: containerId, ifName: ifName)
        }
        // Its published ports go with it (CNI portMappings, or mappings added with its id).
        let released = try AttachmentRelease(store: store, dataplane: dataplane, provisioner: provisioner, log: log)
            .release(record, dataplaneFailure: .keep)
        if !released.natMappings.isEmpty {
            log.info("detach \(containerId)/\(ifName): removed nat mapping(s) \(released.natMappings.joined(separator: ", "))")
        }
        if record.ownsLease {
            log.info("detached \(containerId)/\(ifName) from \(record.network), released \(record.address), in \(released.timing)")
        } else {
            log.info("detached \(containerId)/\(ifName) from \(record.network); external address \(record.address) left to its owner, in \(released.timing)")
        }
    }

    /// "4.1 ms (veth 3.0, dataplane 0.9)": where an attach or detach spent its time.
    static func phases(_ spans: [(String, ContinuousClock.Instant, ContinuousClock.Instant)]) -> String {
        func ms(_ d: Duration) -> String {
            let c = d.components
            return String(format: "%.1f", Double(c.seconds) * 1e3 + Double(c.attoseconds) / 1e15)
        }
        guard let first = spans.first, let last = spans.last else { return "0 ms" }
        return "\(ms(last.2 - first.1)) ms (" + spans.map { "\($0.0) \(ms($0.2 - $0.1))" }.joined(separator: ", ") + ")"
    }

    /// Step 4 (only with limits): the dataplane's policers for the
    /// attachment's interface. Its own barrier, right after the interface
    /// joined its domain; buckets start full, so the frames of that instant
    /// count against the burst anyway.
    private func applyBandwidth(_ record: AttachmentRecord, undo: inout [(String, () throws -> Void)]) throws {
        guard let limits = record.bandwidth else { return }
        undo.append(("remove \(record.hostIfName) from the dataplane", { [dataplane] in
            try dataplane.removeInterface(hostIfName: record.hostIfName)
        }))
        do {
            try dataplane.setBandwidth(hostIfName: record.hostIfName, limits: limits)
        } catch {
            throw ControlError.wrap(error, code: "dataplane_error", context: "setting the bandwidth limits of \(record.hostIfName)")
        }
    }

    /// `bandwidth` of an attach request, in the CNI convention (rates in
    /// bits/s, bursts in bits): per direction both or neither, every value
    /// > 0. An empty object is no limit (nil).
    static func validBandwidth(_ limits: BandwidthLimits?) throws -> BandwidthLimits? {
        guard let limits, !limits.isEmpty else { return nil }
        for (direction, rate, burst) in [("ingress", limits.ingressRate, limits.ingressBurst),
                                         ("egress", limits.egressRate, limits.egressBurst)] {
            for (name, value, unit) in [("\(direction)Rate", rate, "bits/s"), ("\(direction)Burst", burst, "bits")] {
                if let value, value <= 0 {
                    throw ControlError.invalidField("bandwidth.\(name)",
                        "bandwidth.\(name) must be a positive number of \(unit), not \(value); leave both \(direction) fields out for no limit")
                }
            }
            if rate != nil, burst == nil {
                throw ControlError.invalidField("bandwidth.\(direction)Burst",
                    "bandwidth.\(direction)Rate needs bandwidth.\(direction)Burst too (in bits; a few hundred ms at the rate suits TCP, e.g. rate/2)")
            }
            if rate == nil, burst != nil {
                throw ControlError.invalidField("bandwidth.\(direction)Rate",
                    "bandwidth.\(direction)Burst needs bandwidth.\(direction)Rate too (in bits/s)")
            }
        }
        return limits
    }

    /// The dataplane side of an attachment whose kernel side exists: its port
    /// (the TAP's queues `tapFds`, else the host veth) in the bridge domain,
    /// with the attachment's source guard and bandwidth. The one place the
    /// reconciler and the attachment watch restore an attachment from, so a
    /// new per-attachment setting is not forgotten in one of them.
    @discardableResult
    static func plug(_ record: AttachmentRecord, bridgeDomain: UInt32, tapFds: [Int32]?, dataplane: Dataplane) throws -> UInt32 {
        let guardSpec = try sourceGuard(for: record)
        let swIfIndex: UInt32
        if let tapFds {
            swIfIndex = try dataplane.addTapInterface(name: record.hostIfName, bridgeDomain: bridgeDomain, queueFds: tapFds,
                                                      mac: try vethSpec(for: record, dataplane: dataplane).mac, mtu: record.mtu, sourceGuard: guardSpec)
        } else {
            swIfIndex = try dataplane.addLinkInterface(hostIfName: record.hostIfName, bridgeDomain: bridgeDomain,
                                                       driver: PortDriver(rawValue: record.driver) ?? .afPacket, sourceGuard: guardSpec)
        }
        if let limits = record.bandwidth { try dataplane.setBandwidth(hostIfName: record.hostIfName, limits: limits) }
        return swIfIndex
    }

    /// What the container may send from: its MAC and address, unless the
    /// attachment was made with `sourceGuard: false`.
    static func sourceGuard(for record: AttachmentRecord) throws -> SourceGuardSpec? {
        guard record.sourceGuard else { return nil }
        guard let mac = InterfaceIdentity.parse(mac: record.mac), let address = IPv4Address(record.address) else {
            throw ControlError(.internal, code: "corrupt_state",
                               message: "attachment \(record.containerId)/\(record.ifName) has an invalid stored MAC or address")
        }
        return SourceGuardSpec(mac: mac, ipv4: address.value)
    }

    /// The veth an attachment record describes: same name, MAC and address
    /// every time, so the reconciler can recreate it identically. Its TSO/GSO
    /// stay on where `dataplane` carries super-frames for the record's driver.
    static func vethSpec(for record: AttachmentRecord, dataplane: Dataplane) throws -> VethSpec {
        guard let mac = InterfaceIdentity.parse(mac: record.mac) else {
            throw ControlError(.internal, code: "corrupt_state",
                               message: "attachment \(record.containerId)/\(record.ifName) has an invalid stored MAC \"\(record.mac)\"")
        }
        var spec = VethSpec(hostIfName: record.hostIfName, netnsPath: record.netns, containerIfName: record.ifName,
                            mac: mac, mtu: record.mtu, address: record.address, prefixLength: record.prefixLength,
                            gateway: record.gateway)
        spec.keepSegmentationOffloads = !record.isTap && dataplane.carriesSuperFrames(driver: PortDriver(rawValue: record.driver) ?? .afPacket)
        // weftd's own addresses route through weftd: without an explicit
        // gateway, the network's (its first host, weftd's BVI) becomes the
        // default route, unless the container already has one (a second interface).
        if record.gateway == nil, record.ownsLease, record.prefixLength <= 30, let address = IPv4Address(record.address) {
            spec.gateway = IPv4Address((address.value & IPv4Subnet.mask(record.prefixLength)) &+ 1).description
            spec.gatewayIfNoDefault = true
        }
        return spec
    }

    /// "10.1.0.7/24" or "10.1.0.7"; whether it fits the network is the
    /// store's check, inside the transaction.
    static func parseAddress(_ text: String) throws -> (address: IPv4Address, prefix: Int?) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        let prefix: Int?
        if parts.count == 2 {
            guard let length = IPv4Subnet.prefixLength(parts[1]), length <= 32 else {
                throw ControlError.invalidField("address", "address \"\(text)\" has an invalid prefix length; write it like 10.1.0.7/24")
            }
            prefix = length
        } else {
            prefix = nil
        }
        guard parts.count <= 2, let address = IPv4Address(String(parts[0])) else {
            throw ControlError.invalidField("address", "address \"\(text)\" is not an IPv4 address; write it like 10.1.0.7/24")
        }
        return (address, prefix)
    }

    /// `outcome`: what the caller's state is after the failure, for the
    /// out-of-descriptors message ("nothing was attached" for an attach).
    static func kernelError(_ error: Error, doing what: String, outcome: String = "nothing was attached") -> ControlError {
        if let control = error as? ControlError { return control }
        if let netns = error as? NetnsError {
            if netns.errno == EMFILE || netns.errno == ENFILE {
                return ControlError(.unavailable, code: "fds_exhausted",
                                    message: "\(what): weftd is out of file descriptors (\(netns.message)); \(outcome). Raise weftd's limit (LimitNOFILE, ulimit -n; now \(Self.openFileLimit())) or detach unused containers, then retry")
            }
            return ControlError(.internal, code: "netns_error", message: "\(what): \(netns.message) (errno \(netns.errno))")
        }
        return ControlError(.internal, code: "netns_error", message: "\(what): \(error)")
    }

    /// "soft/hard" RLIMIT_NOFILE, for the out-of-descriptors message.
    static func openFileLimit() -> String {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return "unknown" }
        return "\(limit.rlim_cur)/\(limit.rlim_max)"
    }

    static func notFound(containerId: String, ifName: String) -> ControlError {
        ControlError(.notFound, code: "attachment_not_found",
                     message: "container \"\(containerId)\" has no attached interface \"\(ifName)\"")
    }

    private func openInterfaces() -> [String: (index: UInt32, mac: String)] {
        var open: [String: (index: UInt32, mac: String)] = [:]
        for info in dataplane.interfaces() { open[info.name] = (info.index, info.mac) }
        return open
    }
}
