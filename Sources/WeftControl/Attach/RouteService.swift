// Static routes: validates them, records them, and programs them into FIB
// table 0. Called only from the control thread.

public final class RouteService {
    let store: StateStore
    let dataplane: Dataplane
    let log: WeftLogger

    public init(store: StateStore, dataplane: Dataplane, log: WeftLogger = .shared) {
        self.store = store; self.dataplane = dataplane; self.log = log
    }

    /// "a.b.c.d/len" (0...32, no host bits) -> (address, length). Errors name `field`.
    public static func parsePrefix(_ text: String, field: String = "prefix") throws -> (address: IPv4Address, length: Int) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let length = IPv4Subnet.prefixLength(parts[1]), (0...32).contains(length) else {
            throw ControlError.invalidField(field, "\(field) \"\(text)\" is not a.b.c.d/len with len 0 to 32")
        }
        guard let address = IPv4Address(String(parts[0])) else {
            throw ControlError.invalidField(field, "\(field) \"\(text)\": \"\(parts[0])\" is not a valid IPv4 address")
        }
        let masked = IPv4Address(address.value & IPv4Subnet.mask(length))
        guard masked == address else {
            throw ControlError.invalidField(field, "\(field) \"\(text)\" has host bits set; did you mean \(masked)/\(length)?")
        }
        return (address, length)
    }

    /// Checks one route against the networks: the next hop must be a host
    /// of a network's subnet other than its gateway.
    func validate(_ request: AddRouteRequest, networks: [NetworkRecord], uplink: UplinkRecord?) throws -> (StaticRoute, canonical: String, nextHop: String) {
        let prefix = try Self.parsePrefix(request.prefix)
        guard let nextHop = IPv4Address(request.nextHop) else {
            throw ControlError.invalidField("nextHop", "nextHop \"\(request.nextHop)\" is not a valid IPv4 address")
        }
        if prefix.length == 0, let uplink, uplink.gateway != nil {
            throw ControlError(.conflict, code: "route_exists",
                               message: "0.0.0.0/0 is the uplink's default route (via \(uplink.gateway!)); change it with the uplink", field: "prefix")
        }
        if let uplink, let u = try? UplinkService.parse(address: uplink.address, gateway: nil), u.subnet.contains(nextHop) {
            guard nextHop != u.address, nextHop != u.subnet.network, nextHop != u.subnet.broadcast else {
                throw ControlError.invalidField("nextHop", "nextHop \(nextHop) is the uplink's own, network or broadcast address (\(uplink.address))")
            }
            return (StaticRoute(prefix: prefix.address.value, length: prefix.length, nextHop: nextHop.value),
                    "\(prefix.address)/\(prefix.length)", nextHop.description)
        }
        let onLink = networks.compactMap { n -> (NetworkRecord, IPv4Subnet)? in
            guard let s = try? IPv4Subnet.parse(n.subnet), NetworkService.gateway(of: n) != nil, s.contains(nextHop) else { return nil }
            return (n, s)
        }.first
        guard let (network, subnet) = onLink else {
            throw ControlError.invalidField("nextHop", "nextHop \(nextHop) is not on a connected subnet; it must be a host in one of the networks' subnets or the uplink's")
        }
        guard nextHop != subnet.reservedGateway, nextHop != subnet.network, nextHop != subnet.broadcast else {
            throw ControlError.invalidField("nextHop", "nextHop \(nextHop) is the network, gateway or broadcast address of network \"\(network.name)\" (\(subnet))")
        }
        if networks.contains(where: { $0.subnet == "\(prefix.address)/\(prefix.length)" }) {
            throw ControlError(.conflict, code: "route_is_connected",
                               message: "\(prefix.address)/\(prefix.length) is a network's connected subnet", field: "prefix")
        }
        return (StaticRoute(prefix: prefix.address.value, length: prefix.length, nextHop: nextHop.value),
                "\(prefix.address)/\(prefix.length)", nextHop.description)
    }

    public func list() throws -> [AddRouteRequest] {
        try store.routes().map { AddRouteRequest(prefix: $0.prefix, nextHop: $0.nextHop) }
    }

    public func add(_ request: AddRouteRequest) throws -> AddRouteRequest {
        try add([request])[0]
    }

    /// Validates every route first (all or nothing), records them in one
    /// transaction, then programs them under one barrier.
    public func add(_ requests: [AddRouteRequest]) throws -> [AddRouteRequest] {
        guard !requests.isEmpty else { throw ControlError.invalidField("routes", "the list of routes is empty") }
        let networks = try store.networks()
        let uplink = try store.uplink()
        var validated: [(StaticRoute, canonical: String, nextHop: String)] = []
        var seen = Set<String>()
        for (i, request) in requests.enumerated() {
            do {
                let v = try validate(request, networks: networks, uplink: uplink)
                guard seen.insert(v.canonical).inserted else {
                    throw ControlError(.conflict, code: "route_exists", message: "\(v.canonical) appears twice", field: "prefix")
                }
                validated.append(v)
            } catch var error as ControlError where requests.count > 1 {
                error.message = "route \(i + 1) (\(request.prefix) via \(request.nextHop)): \(error.message)"
                throw error
            }
        }
        try store.createRoutes(validated.map { ($0.canonical, $0.nextHop) })
        do {
            try dataplane.addRoutes(validated.map(\.0))
        } catch {
            do { try store.deleteRoutes(prefixes: validated.map(\.canonical)) } catch let cleanup {
                log.error("routes: could not remove the records after a failed add: \(cleanup)")
            }
            throw ControlError.wrap(error, code: "dataplane_error", context: "adding \(validated.count) route(s)")
        }
        for v in validated { log.info("route \(v.canonical) via \(v.nextHop) added") }
        return validated.map { AddRouteRequest(prefix: $0.canonical, nextHop: $0.nextHop) }
    }

    public func delete(prefix text: String) throws {
        let prefix = try Self.parsePrefix(text)
        let canonical = "\(prefix.address)/\(prefix.length)"
        guard try store.route(prefix: canonical) != nil else {
            throw ControlError(.notFound, code: "route_not_found", message: "no static route for \(canonical)", field: "prefix")
        }
        do {
            try dataplane.deleteRoute(prefix: prefix.address.value, length: prefix.length)
        } catch DataplaneError.notFound {
            // Not in the dataplane (a failed restore): the record is all there is.
        } catch {
            throw ControlError.wrap(error, code: "dataplane_error", context: "deleting route \(canonical)")
        }
        try store.deleteRoute(prefix: canonical)
        log.info("route \(canonical) deleted")
    }

    /// Routes whose next hop is in `subnet` (a network being deleted).
    func routes(via subnet: IPv4Subnet) throws -> [RouteRecord] {
        try store.routes().filter { IPv4Address($0.nextHop).map(subnet.contains) ?? false }
    }
}
