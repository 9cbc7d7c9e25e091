// Brings the kernel and a freshly started dataplane in line with the state
// store. The store is the truth: weftd may have been killed at any point, so
// every attachment is checked against what actually exists and either
// restored or, when its container is gone, removed. Host interfaces (links
// added with `interface add`) are reopened when their link still exists.
//
// Run it on the control thread, after the dataplane is up and before the API
// server accepts requests.

public final class Reconciler {
    let store: StateStore
    let dataplane: Dataplane
    let provisioner: VethProvisioner
    let log: WeftLogger

    public init(store: StateStore, dataplane: Dataplane, provisioner: VethProvisioner, log: WeftLogger = .shared) {
        self.store = store; self.dataplane = dataplane; self.provisioner = provisioner; self.log = log
    }

    /// One pass over all networks, attachments and host interfaces.
    /// Individual failures are logged and reported, not thrown, so one broken
    /// attachment does not keep the rest of the node offline; only an
    /// unreadable store throws.
    @discardableResult
    public func run() throws -> ReconcileReport {
        var report = ReconcileReport()
        var bridgeDomains: [String: UInt32] = [:]

        for network in try store.networks() {
            let id = UInt32(network.bridgeDomain)
            do {
                try dataplane.createBridgeDomain(id: id, learnLimit: UInt32(network.learnLimit),
                                                 macAgeSeconds: UInt32(network.macAgeSeconds))
                bridgeDomains[network.name] = id
                report.bridgeDomainsCreated.append(network.name)
            } catch {
                report.failures.append("network \(network.name): creating bridge domain \(id): \(error)")
                log.error("restore network \(network.name): creating bridge domain \(id) failed: \(error)")
                continue
            }
            do {
                try NetworkService.setGateway(of: network, dataplane: dataplane)
                try NetworkService.setMasquerade(of: network, dataplane: dataplane)
            } catch {
                report.failures.append("network \(network.name): gateway: \(error)")
                log.error("restore network \(network.name): setting the gateway failed: \(error)")
            }
        }

        if let uplink = try store.uplink() {
            if !provisioner.linkExists(uplink.name) {
                report.failures.append("uplink \(uplink.name): no such link")
                log.warning("restore uplink \(uplink.name): no such link in weftd's namespace; kept, not in the dataplane")
            } else {
                do {
                    try UplinkService.program(uplink, dataplane: dataplane)
                    report.uplinkRestored = uplink.name
                } catch {
                    report.failures.append("uplink \(uplink.name): \(error)")
                    log.error("restore uplink \(uplink.name) failed, kept for the next start: \(error)")
                }
            }
        }

        if let natConfig = try store.natConfig() {
            do { try NATService.program(natConfig, dataplane: dataplane) } catch {
                report.failures.append("nat config: \(error)")
                log.error("restore nat config failed: \(error)")
            }
        }
        for mapping in try store.natMappings() {
            let name = "\(mapping.protocol)/\(mapping.externalPort)"
            do {
                try NATService.program(mapping, dataplane: dataplane)
                report.natMappingsRestored.append(name)
            } catch {
                report.failures.append("nat mapping \(name): \(error)")
                log.error("restore nat mapping \(name) failed, kept for the next start: \(error)")
            }
        }

        // In batches (one dataplane call per 64k routes, a few thousand per
        // barrier), so a million routes come back in seconds.
        let restoredRoutes = RouteService.restore(try store.storedRoutes(), dataplane: dataplane)
        report.routesRestored.append(contentsOf: restoredRoutes.restored)
        for (route, error) in restoredRoutes.failures {
            let name = "\(route.prefix) via \(route.nextHop)" + (route.vrf == 0 ? "" : " vrf \(route.vrf)")
            report.failures.append("route \(name): \(error)")
            log.error("restore route \(name) failed, kept for the next start: \(error)")
        }

        let tunnels = try store.tunnels()
        if !tunnels.isEmpty {
            let networks = Dictionary(try store.networks().map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
            let local = try store.uplink().flatMap { try? UplinkService.parse(address: $0.address, gateway: nil).address }
            for tunnel in tunnels {
                do {
                    guard let network = networks[tunnel.network], bridgeDomains[tunnel.network] != nil else {
                        throw ControlError(.internal, code: "network_not_restored",
                                           message: "bridge domain of network \(tunnel.network) could not be created")
                    }
                    guard let local else {
                        throw ControlError(.internal, code: "uplink_not_configured", message: "no uplink record: no local VTEP address")
                    }
                    _ = try TunnelService.program(tunnel, network: network, local: local, dataplane: dataplane)
                    report.tunnelsRestored.append(tunnel.interfaceName)
                } catch {
                    report.failures.append("tunnel \(tunnel.interfaceName) to \(tunnel.remote): \(error)")
                    log.error("restore tunnel \(tunnel.interfaceName) to \(tunnel.remote) failed, kept for the next start: \(error)")
                }
            }
        }

        for attachment in try store.attachments() {
            let name = "\(attachment.containerId)/\(attachment.ifName)"
            do {
                try restore(attachment, bridgeDomain: bridgeDomains[attachment.network], report: &report)
            } catch {
                report.failures.append("attachment \(name): \(error)")
                log.error("restore attachment \(name) (\(attachment.hostIfName)) failed, kept for the next start: \(error)")
            }
        }

        for hostInterface in try store.hostInterfaces() {
            do {
                try restore(hostInterface, bridgeDomain: bridgeDomains[hostInterface.network], report: &report)
            } catch {
                report.failures.append("host interface \(hostInterface.name): \(error)")
                log.error("restore host interface \(hostInterface.name) failed, kept for the next start: \(error)")
            }
        }
        log.info("reconcile: \(report.summary)")
        return report
    }

    private func restore(_ attachment: AttachmentRecord, bridgeDomain: UInt32?, report: inout ReconcileReport) throws {
        let name = "\(attachment.containerId)/\(attachment.ifName)"
        guard provisioner.netnsExists(attachment.netns) else {
            // The container is gone (its namespace with it), so nobody will
            // ever detach it: free the address, its published ports (restored
            // above) and any host end left.
            let released = try AttachmentRelease(store: store, dataplane: dataplane, provisioner: provisioner, log: log)
                .release(attachment, dataplaneFailure: .logAndContinue)
            if !released.natMappings.isEmpty {
                let gone = Set(released.natMappings)
                report.natMappingsRestored.removeAll { gone.contains($0) }
                log.info("restore \(name): removed nat mapping(s) \(released.natMappings.joined(separator: ", ")) of the gone container")
            }
            if released.kernelPartExisted && !attachment.isTap {
                log.info("restore \(name): removed leftover veth \(attachment.hostIfName)")
            }
            report.attachmentsRemoved.append(name)
            let lease = attachment.ownsLease ? "released \(attachment.address)" : "forgot external address \(attachment.address)"
            log.info("restore \(name): netns \(attachment.netns) is gone; removed the attachment and \(lease)")
            return
        }
        guard let bridgeDomain else {
            throw ControlError(.internal, code: "network_not_restored",
                               message: "bridge domain of network \(attachment.network) could not be created")
        }
        if attachment.isTap {
            // The TAP is persistent: it outlived weftd inside the container.
            // Take its queues over, or make it again if it is gone.
            let spec = try AttachmentService.vethSpec(for: attachment, dataplane: dataplane)
            let survived = provisioner.containerLinkExists(netnsPath: attachment.netns, ifName: attachment.ifName)
            let fds = survived
                ? try provisioner.openTap(netnsPath: attachment.netns, ifName: attachment.ifName, queues: attachment.queues)
                : try provisioner.createTap(spec, queues: attachment.queues)
            try AttachmentService.plug(attachment, bridgeDomain: bridgeDomain, tapFds: fds, dataplane: dataplane)
            if survived { report.interfacesReopened.append(name) } else { report.vethsRecreated.append(name) }
            log.debug("restore \(name): tap \(attachment.ifName) in \(attachment.netns) \(survived ? "taken over" : "recreated")")
            return
        }
        let vethSurvived = provisioner.linkExists(attachment.hostIfName)
        if !vethSurvived {
            _ = try provisioner.createVeth(AttachmentService.vethSpec(for: attachment, dataplane: dataplane))
            log.info("restore \(name): recreated veth \(attachment.hostIfName) in \(attachment.netns)")
        }
        let swIfIndex = try AttachmentService.plug(attachment, bridgeDomain: bridgeDomain, tapFds: nil, dataplane: dataplane)
        if vethSurvived {
            report.interfacesReopened.append(name)
        } else {
            report.vethsRecreated.append(name)
        }
        log.debug("restore \(name): \(attachment.hostIfName) is sw_if_index \(swIfIndex) in bridge domain \(bridgeDomain)")
    }

    /// A host interface is not weftd's to create: if its link is gone, say
    /// so and keep the record: a later start reopens it once the link is
    /// back, and `weftctl interface delete` removes it.
    private func restore(_ hostInterface: HostInterfaceRecord, bridgeDomain: UInt32?,
                         report: inout ReconcileReport) throws {
        guard provisioner.linkExists(hostInterface.name) else {
            report.hostInterfacesMissing.append(hostInterface.name)
            log.warning("restore host interface \(hostInterface.name): no such link in weftd's namespace; kept in network \(hostInterface.network), not in the dataplane")
            return
        }
        guard let bridgeDomain else {
            throw ControlError(.internal, code: "network_not_restored",
                               message: "bridge domain of network \(hostInterface.network) could not be created")
        }
        let swIfIndex = try dataplane.addLinkInterface(hostIfName: hostInterface.name, bridgeDomain: bridgeDomain,
                                                  driver: PortDriver(rawValue: hostInterface.driver) ?? .afPacket, sourceGuard: nil)
        report.hostInterfacesReopened.append(hostInterface.name)
        log.debug("restore host interface \(hostInterface.name): sw_if_index \(swIfIndex) in bridge domain \(bridgeDomain)")
    }
}

