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
        let remotes = Dictionary(grouping: try store.tunnels(), by: \.network)
        return try store.networks().map { NetworkInfo($0, remoteVteps: remotes[$0.name]?.map(\.remote)) }
    }

    public func get(name: String) throws -> NetworkInfo {
        guard let record = try store.network(named: name) else { throw Self.notFound(name) }
        return NetworkInfo(record, remoteVteps: try store.tunnels(network: name).map(\.remote))
    }

    /// VXLAN adds 50 bytes (outer Ethernet, IPv4, UDP, VXLAN) to every frame.
    public static let vxlanOverhead = 50

    /// The MTU of the uplink's link as the dataplane opened it, if there is one.
    func underlayMTU() throws -> Int? {
        guard let uplink = try store.uplink() else { return nil }
        return dataplane.interfaces().first(where: { $0.name == uplink.name })?.mtu
    }

    /// Checks `rangeStart`/`rangeEnd`: both or neither, assignable hosts of
    /// the subnet, in order. Returns them canonical.
    static func parseRange(_ start: String?, _ end: String?, in subnet: IPv4Subnet) throws -> (String, String)? {
        guard start != nil || end != nil else { return nil }
        guard let startText = start, let endText = end else {
            throw ControlError.invalidField(start == nil ? "rangeStart" : "rangeEnd",
                                            "give both rangeStart and rangeEnd (this node's share of \(subnet)), or neither")
        }
        let assignable = subnet.assignableRange
        func parse(_ text: String, _ field: String) throws -> IPv4Address {
            guard let a = IPv4Address(text) else { throw ControlError.invalidField(field, "\(field) \"\(text)\" is not an IPv4 address") }
            guard assignable.contains(a.value) else {
                throw ControlError.invalidField(field, "\(field) \(a) is not an assignable host of \(subnet) (\(IPv4Address(assignable.lowerBound)) to \(IPv4Address(assignable.upperBound)); the first host is the gateway)")
            }
            return a
        }
        let s = try parse(startText, "rangeStart"), e = try parse(endText, "rangeEnd")
        guard s.value <= e.value else { throw ControlError.invalidField("rangeEnd", "rangeEnd \(e) comes before rangeStart \(s)") }
        return (s.description, e.description)
    }

    public func create(_ request: CreateNetworkRequest) throws -> NetworkInfo {
        try FieldRules.networkName(request.name)
        let subnet: IPv4Subnet
        do {
            subnet = try IPv4Subnet.parse(request.subnet)
        } catch let error as IPv4Subnet.ParseError {
            throw ControlError.invalidField("subnet", "subnet \(error)")
        }
        let vrf = try RouteService.vrf(request.vrf)
        if request.masquerade == true && vrf != 0 {
            // NAT44's outside is the uplink, in vrf 0: nat44-out2in looks translated
            // replies up in the uplink's table, where another VRF's subnet is not.
            throw ControlError.invalidField("masquerade", "masquerade needs vrf 0 (the uplink's VRF); network \"\(request.name)\" asks for vrf \(vrf)")
        }
        // The uplink lives in vrf 0: only networks of vrf 0 must stay clear of its subnet.
        if vrf == 0, let uplink = try store.uplink(), let u = try? UplinkService.parse(address: uplink.address, gateway: nil),
           u.subnet.contains(subnet.network) || subnet.contains(u.subnet.network) {
            throw ControlError(.conflict, code: "subnet_overlaps_uplink",
                               message: "subnet \(subnet) overlaps the uplink's subnet \(u.subnet) (\(uplink.name)); pick another subnet",
                               field: "subnet")
        }
        if let vni = request.vni {
            try FieldRules.check(vni, in: FieldRules.vniRange, field: "vni")
        }
        let range = try Self.parseRange(request.rangeStart, request.rangeEnd, in: subnet)
        // A network that spans nodes carries its frames inside VXLAN: its MTU
        // is the underlay's minus the 50 bytes of outer headers.
        let underlay = request.vni == nil ? nil : try underlayMTU()
        let mtu = request.mtu ?? (request.vni == nil ? FieldRules.defaultMTU : (underlay ?? FieldRules.defaultMTU) - Self.vxlanOverhead)
        try FieldRules.mtu(mtu)
        if let underlay, mtu > underlay - Self.vxlanOverhead {
            throw ControlError.invalidField("mtu", "mtu \(mtu) does not fit the underlay: the uplink's MTU \(underlay) minus \(Self.vxlanOverhead) bytes of VXLAN headers is \(underlay - Self.vxlanOverhead)")
        }
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
                                             learnLimit: learnLimit, vni: request.vni, rangeStart: range?.0, rangeEnd: range?.1,
                                             masquerade: request.masquerade ?? false, vrf: vrf)
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
            try Self.setMasquerade(of: record, dataplane: dataplane)
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
        log.info("network \(record.name) created: subnet \(record.subnet), bridge domain \(record.bridgeDomain), mtu \(mtu)"
                 + (record.vni.map { ", vni \($0)" } ?? "") + (record.vrf == 0 ? "" : ", vrf \(record.vrf)"))
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
        let tunnels = try store.tunnelCount(network: name)
        if tunnels > 0 { throw StateStore.networkHasTunnels(name, count: tunnels) }
        if let subnet = try? IPv4Subnet.parse(record.subnet) {
            let via = try store.routes(vrf: record.vrf).filter { IPv4Address($0.nextHop).map(subnet.contains) ?? false }
            let mapped = record.vrf != 0 ? [] : try store.natMappings().filter { IPv4Address($0.internalAddress).map(subnet.contains) ?? false }
            if !mapped.isEmpty {
                throw ControlError(.conflict, code: "network_has_mappings",
                                   message: "network \"\(name)\" is the target of \(mapped.count) nat mapping(s) (\(mapped.map { "\($0.protocol)/\($0.externalPort)" }.joined(separator: ", "))); delete them first")
            }
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
                                 prefixLength: gateway.prefixLength, mtu: record.mtu, vrf: UInt32(record.vrf))
    }

    /// Turns NAT44 on for the network's gateway when the record asks for it (create and restore).
    static func setMasquerade(of record: NetworkRecord, dataplane: Dataplane) throws {
        guard record.masquerade else { return }
        guard record.vrf == 0 else {
            throw ControlError.invalidField("masquerade", "network \(record.name) is in vrf \(record.vrf): masquerade needs vrf 0 (the uplink's)")
        }
        guard gateway(of: record) != nil else {
            throw ControlError.invalidField("masquerade", "network \(record.name) (\(record.subnet)) has no gateway to masquerade behind: use /30 or larger")
        }
        try dataplane.setMasquerade(bridgeDomain: UInt32(record.bridgeDomain), enabled: true)
    }

    static func notFound(_ name: String) -> ControlError {
        ControlError(.notFound, code: "network_not_found", message: "network \"\(name)\" does not exist")
    }
}
