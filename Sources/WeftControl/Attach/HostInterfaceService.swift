// Bridges interfaces that already exist in weftd's namespace (a NIC, a veth
// a benchmark made) into networks: `weftctl interface add d0 --network
// bench`. Unlike attachments, weftd neither creates nor deletes these links;
// it records them, opens them in the dataplane, and reopens them after a
// restart. Called only from the control thread.

public final class HostInterfaceService {
    let store: StateStore
    let dataplane: Dataplane
    let provisioner: VethProvisioner
    let log: WeftLogger

    public init(store: StateStore, dataplane: Dataplane, provisioner: VethProvisioner, log: WeftLogger = .shared) {
        self.store = store; self.dataplane = dataplane; self.provisioner = provisioner; self.log = log
    }

    /// Opens link `request.name` in the network's bridge domain and records
    /// it, so it comes back after a restart. Returns the dataplane's view of
    /// the new interface.
    public func add(_ request: AddInterfaceRequest) throws -> InterfaceInfo {
        try FieldRules.linkName(request.name, field: "name")
        try FieldRules.networkName(request.network, field: "network")
        let driver = try FieldRules.portDriver(request.driver)

        // Cheap checks first, in the order a caller fixes them.
        if let existing = try store.hostInterface(named: request.name) {
            throw StateStore.hostInterfaceExists(request.name, network: existing.network)
        }
        if let holder = try store.attachment(hostIfName: request.name) {
            throw StateStore.hostInterfaceIsAttachment(request.name, holder)
        }
        if dataplane.interfaces().contains(where: { $0.name == request.name }) {
            throw ControlError(.conflict, code: "interface_exists",
                               message: "interface \"\(request.name)\" is already in the dataplane", field: "name")
        }
        guard let network = try store.network(named: request.network) else {
            throw ControlError(.notFound, code: "network_not_found",
                               message: "network \"\(request.network)\" does not exist; create it first", field: "network")
        }
        guard provisioner.linkExists(request.name) else {
            throw ControlError(.badRequest, code: "link_not_found",
                               message: "interface \"\(request.name)\" does not exist in weftd's network namespace; create it there first",
                               field: "name")
        }

        // Record first, then open: if weftd dies in between, the reconciler
        // opens the interface from the record on start.
        let record = try store.createHostInterface(name: request.name, network: network.name, driver: driver)
        let swIfIndex: UInt32
        do {
            swIfIndex = try dataplane.addLinkInterface(hostIfName: record.name, bridgeDomain: UInt32(network.bridgeDomain),
                                                           driver: PortDriver(rawValue: record.driver) ?? .afPacket, sourceGuard: nil)
        } catch {
            do {
                try store.deleteHostInterface(named: record.name)
            } catch let cleanup {
                log.error("interface \(record.name): could not remove the record after a failed add: \(cleanup)")
            }
            throw ControlError.wrap(error, code: "dataplane_error",
                                    context: "adding \(record.name) to bridge domain \(network.bridgeDomain)")
        }
        log.info("interface \(record.name) added to \(network.name): bridge domain \(network.bridgeDomain), sw_if_index \(swIfIndex)")
        guard let info = dataplane.interfaces().first(where: { $0.name == record.name }) else {
            throw ControlError(.internal, code: "dataplane_error",
                               message: "interface \(record.name) was added as sw_if_index \(swIfIndex) but the dataplane does not list it")
        }
        return info
    }

    /// Takes the interface out of the dataplane and forgets it; the link
    /// itself is left alone. An interface the dataplane no longer has (its
    /// link vanished before a restart) is just forgotten.
    public func delete(name: String) throws {
        if let holder = try store.attachment(hostIfName: name) {
            throw ControlError(.conflict, code: "interface_is_attachment",
                               message: "interface \"\(name)\" is the host end of attachment \(holder.containerId)/\(holder.ifName); detach it instead: weftctl detach --container \(holder.containerId) --ifname \(holder.ifName)")
        }
        guard let record = try store.hostInterface(named: name) else {
            throw ControlError(.notFound, code: "interface_not_found",
                               message: "interface \"\(name)\" was not added with interface add (POST /v1/interfaces)")
        }
        do {
            try dataplane.removeInterface(hostIfName: name)
        } catch DataplaneError.notFound {
            log.debug("interface delete \(name): it was not in the dataplane")
        } catch {
            throw ControlError.wrap(error, code: "dataplane_error", context: "removing \(name) from the dataplane")
        }
        try store.deleteHostInterface(named: name)
        log.info("interface \(name) removed from \(record.network)")
    }
}
