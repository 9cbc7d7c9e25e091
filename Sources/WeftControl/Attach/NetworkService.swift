// Create, list and delete networks: validates the request, records the
// network, and creates its bridge domain in the dataplane. Called only from
// the control thread.

public final class NetworkService {
    let store: StateStore
    let dataplane: Dataplane
    let log: WeftLogger

    public init(store: StateStore, dataplane: Dataplane, log: WeftLogger = .shared) {
        self.store = store; self.dataplane = dataplane; self.log = log
    }

    public func list() throws -> [NetworkInfo] {
        try store.networks().map(NetworkInfo.init)
    }

    public func get(name: String) throws -> NetworkInfo {
        guard let record = try store.network(named: name) else { throw Self.notFound(name) }
        return NetworkInfo(record)
    }

    public func create(_ request: CreateNetworkRequest) throws -> NetworkInfo {
        try FieldRules.networkName(request.name)
        let subnet: IPv4Subnet
        do {
            subnet = try IPv4Subnet.parse(request.subnet)
        } catch let error as IPv4Subnet.ParseError {
            throw ControlError.invalidField("subnet", "subnet \(error)")
        }
        let mtu = request.mtu ?? FieldRules.defaultMTU
        try FieldRules.mtu(mtu)
        if let domain = request.bridgeDomain {
            try FieldRules.check(domain, in: FieldRules.bridgeDomainRange, field: "bridgeDomain")
        }
        let macAge = request.macAgeSeconds ?? FieldRules.defaultMacAgeSeconds
        try FieldRules.check(macAge, in: FieldRules.macAgeRange, field: "macAgeSeconds")
        let learnLimit = request.learnLimit ?? FieldRules.defaultLearnLimit
        try FieldRules.check(learnLimit, in: FieldRules.learnLimitRange, field: "learnLimit")

        // Record first, then program the dataplane: if weftd dies in between,
        // the reconciler creates the bridge domain from the record on start.
        let record = try store.createNetwork(name: request.name, subnet: subnet.description, mtu: mtu,
                                             bridgeDomain: request.bridgeDomain, macAgeSeconds: macAge,
                                             learnLimit: learnLimit)
        do {
            try dataplane.createBridgeDomain(id: UInt32(record.bridgeDomain), learnLimit: UInt32(learnLimit),
                                             macAgeSeconds: UInt32(macAge))
        } catch {
            do {
                try store.deleteNetwork(named: record.name)
            } catch let cleanup {
                log.error("network \(record.name): could not remove the record after a failed create: \(cleanup)")
            }
            throw ControlError.wrap(error, code: "dataplane_error",
                                    context: "creating bridge domain \(record.bridgeDomain) for network \(record.name)")
        }
        do {
            try Self.setGateway(of: record, dataplane: dataplane)
        } catch {
            try? dataplane.deleteBridgeDomain(id: UInt32(record.bridgeDomain))
            do {
                try store.deleteNetwork(named: record.name)
            } catch let cleanup {
                log.error("network \(record.name): could not remove the record after a failed create: \(cleanup)")
            }
            throw ControlError.wrap(error, code: "dataplane_error",
                                    context: "setting the gateway of network \(record.name)")
        }
        log.info("network \(record.name) created: subnet \(record.subnet), bridge domain \(record.bridgeDomain), mtu \(mtu)")
        return NetworkInfo(record)
    }

    public func delete(name: String) throws {
        guard let record = try store.network(named: name) else { throw Self.notFound(name) }
        let attached = try store.attachmentCount(network: name)
        if attached > 0 {
            throw ControlError(.conflict, code: "network_in_use",
                               message: "network \"\(name)\" still has \(attached) attachment(s); detach them first")
        }
        let bridged = try store.hostInterfaceCount(network: name)
        if bridged > 0 { throw StateStore.networkHasHostInterfaces(name, count: bridged) }
        if let subnet = try? IPv4Subnet.parse(record.subnet) {
            let via = try store.routes().filter { IPv4Address($0.nextHop).map(subnet.contains) ?? false }
            if !via.isEmpty {
                throw ControlError(.conflict, code: "network_has_routes",
                                   message: "network \"\(name)\" is the next hop of \(via.count) route(s) (\(via.map(\.prefix).joined(separator: ", "))); delete them first")
            }
        }
        do {
            try dataplane.removeGateway(bridgeDomain: UInt32(record.bridgeDomain))
        } catch DataplaneError.notFound {
            // No gateway (a /31 or /32 network, or a failed restore).
        } catch {
            throw ControlError.wrap(error, code: "dataplane_error",
                                    context: "removing the gateway of network \(name)")
        }
        do {
            try dataplane.deleteBridgeDomain(id: UInt32(record.bridgeDomain))
        } catch DataplaneError.notFound {
            // Already gone from the dataplane (e.g. a failed restore): the record is all that is left.
        } catch {
            throw ControlError.wrap(error, code: "dataplane_error",
                                    context: "deleting bridge domain \(record.bridgeDomain) of network \(name)")
        }
        try store.deleteNetwork(named: name)
        log.info("network \(name) deleted (bridge domain \(record.bridgeDomain))")
    }

    /// The gateway weftd answers on in a network: the subnet's first host
    /// (reserved by IPAM), on the bridge domain's BVI. None for /31 and /32.
    static func gateway(of record: NetworkRecord) -> (address: IPv4Address, prefixLength: Int)? {
        guard let subnet = try? IPv4Subnet.parse(record.subnet), subnet.prefixLength <= 30 else { return nil }
        return (subnet.reservedGateway, subnet.prefixLength)
    }

    /// Programs the network's gateway (create and restore).
    static func setGateway(of record: NetworkRecord, dataplane: Dataplane) throws {
        guard let gateway = gateway(of: record) else { return }
        try dataplane.setGateway(bridgeDomain: UInt32(record.bridgeDomain), address: gateway.address.value,
                                 prefixLength: gateway.prefixLength, mtu: record.mtu)
    }

    static func notFound(_ name: String) -> ControlError {
        ControlError(.notFound, code: "network_not_found", message: "network \"\(name)\" does not exist")
    }
}
