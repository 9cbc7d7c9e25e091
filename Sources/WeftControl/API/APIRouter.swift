// Maps HTTP method + path to the control-plane operation. Runs on the
// control thread and never throws: every outcome, including a bug, becomes
// a JSON response. docs/api/openapi.yaml describes exactly these routes.

import Foundation

public final class APIRouter {
    let networks: NetworkService
    let attachments: AttachmentService
    let hostInterfaces: HostInterfaceService
    let routes: RouteService
    let uplink: UplinkService
    let tunnels: TunnelService
    let nat: NATService
    let dataplane: Dataplane
    let log: WeftLogger
    /// Refused requests by reason, counted by the server's channel handler where every
    /// answer is written; listed by GET /v1/errors.
    public let refusals: APIRefusals

    /// `hostInterfaces` nil: one on the attachment service's store and provisioner.
    public init(networks: NetworkService, attachments: AttachmentService, dataplane: Dataplane,
                hostInterfaces: HostInterfaceService? = nil, refusals: APIRefusals = APIRefusals(), log: WeftLogger = .shared) {
        self.networks = networks; self.attachments = attachments; self.dataplane = dataplane; self.log = log
        self.refusals = refusals
        self.hostInterfaces = hostInterfaces ?? HostInterfaceService(
            store: attachments.store, dataplane: dataplane, provisioner: attachments.provisioner, log: log)
        self.routes = RouteService(store: attachments.store, dataplane: dataplane, log: log)
        self.uplink = UplinkService(store: attachments.store, dataplane: dataplane, provisioner: attachments.provisioner, log: log)
        self.tunnels = TunnelService(store: attachments.store, dataplane: dataplane, log: log)
        self.nat = NATService(store: attachments.store, dataplane: dataplane, log: log)
    }

    public func handle(_ request: APIRequest) -> APIResponse {
        do {
            return try route(request)
        } catch let notAllowed as MethodNotAllowed {
            return .error(notAllowed.error, headers: [("Allow", notAllowed.allowed.joined(separator: ", "))])
        } catch let error as ControlError {
            if error.kind == .internal { log.error("\(request.method) \(request.path): \(error.message)") }
            return .error(error)
        } catch {
            log.error("\(request.method) \(request.path): unexpected error: \(error)")
            return .error(ControlError(.internal, code: "internal", message: "internal error: \(error)"))
        }
    }

    private func route(_ request: APIRequest) throws -> APIResponse {
        let segments = request.path.split(separator: "/").map { String($0).removingPercentEncodingOrSelf }
        guard segments.first == "v1" else { throw notFound(request) }
        let method = request.method
        switch Array(segments.dropFirst()) {
        case ["health"]:
            try allow(["GET"], request)
            return .json(HealthInfo(status: "ok", version: WeftVersion.current))

        case ["networks"]:
            try allow(["GET", "POST"], request)
            if method == "GET" { return .json(try networks.list()) }
            let body = try APIJSON.decodeRequest(CreateNetworkRequest.self, from: request.body)
            return .json(try networks.create(body), status: 201)

        case let path where path.count == 2 && path[0] == "networks":
            try allow(["GET", "DELETE"], request)
            if method == "GET" { return .json(try networks.get(name: path[1])) }
            try networks.delete(name: path[1])
            return .noContent

        case ["attachments"]:
            try allow(["GET", "POST"], request)
            if method == "GET" { return .json(try attachments.list()) }
            let body = try APIJSON.decodeRequest(CreateAttachmentRequest.self, from: request.body)
            return .json(try attachments.attach(body), status: 201)

        case let path where path.count == 3 && path[0] == "attachments":
            try allow(["GET", "DELETE"], request)
            if method == "GET" { return .json(try attachments.get(containerId: path[1], ifName: path[2])) }
            try attachments.detach(containerId: path[1], ifName: path[2])
            return .noContent

        case let path where path.count == 4 && path[0] == "attachments" && path[3] == "refresh":
            try allow(["POST"], request)
            return .json(try attachments.refresh(containerId: path[1], ifName: path[2]))

        case ["interfaces"]:
            try allow(["GET", "POST"], request)
            if method == "GET" { return .json(dataplane.interfaces()) }
            let body = try APIJSON.decodeRequest(AddInterfaceRequest.self, from: request.body)
            return .json(try hostInterfaces.add(body), status: 201)

        case let path where path.count == 2 && path[0] == "interfaces":
            try allow(["DELETE"], request)
            try hostInterfaces.delete(name: path[1])
            return .noContent

        case ["routes"]:
            try allow(["GET", "POST", "DELETE"], request)
            switch method {
            case "GET":
                return .json(try fib(matching: request.query["prefix"], vrf: try vrfQuery(request) ?? 0))
            case "DELETE":
                guard let prefix = request.query["prefix"] else {
                    throw ControlError.invalidField("prefix", "DELETE /v1/routes needs ?prefix=a.b.c.d/len (and ?vrf=N outside vrf 0)")
                }
                try routes.delete(prefix: prefix, vrf: try vrfQuery(request))
                return .noContent
            default:
                let body = try APIJSON.decodeRequest(AddRouteRequest.self, from: request.body)
                return .json(try routes.add(body), status: 201)
            }

        case ["routes", "static"]:
            try allow(["GET"], request)
            return .json(try routes.list(vrf: try vrfQuery(request)))

        case ["routes", "bulk"]:
            try allow(["POST"], request)
            let body = try APIJSON.decodeRequest(BulkRoutesRequest.self, from: request.body)
            return .json(BulkRoutesResponse(added: try routes.add(bulk: body)), status: 201)

        case let path where path.count == 3 && path[0] == "routes":
            try allow(["DELETE"], request)
            try routes.delete(prefix: "\(path[1])/\(path[2])", vrf: try vrfQuery(request))
            return .noContent

        case ["uplink"]:
            try allow(["GET", "POST", "DELETE"], request)
            switch method {
            case "GET":
                return .json(try uplink.get())
            case "DELETE":
                try uplink.clear()
                return .noContent
            default:
                let body = try APIJSON.decodeRequest(UplinkRequest.self, from: request.body)
                return .json(try uplink.set(body), status: 201)
            }

        case ["tunnels"]:
            try allow(["GET", "POST"], request)
            if method == "GET" { return .json(try tunnels.list()) }
            let body = try APIJSON.decodeRequest(CreateTunnelRequest.self, from: request.body)
            return .json(try tunnels.create(body), status: 201)

        case let path where path.count == 2 && path[0] == "tunnels":
            try allow(["DELETE"], request)
            try tunnels.delete(name: path[1])
            return .noContent

        case ["nat", "mappings"]:
            try allow(["GET", "POST", "DELETE"], request)
            switch method {
            case "GET":
                return .json(try nat.mappings())
            case "DELETE":
                guard let id = request.query["containerId"] else {
                    throw ControlError.invalidField("containerId", "DELETE /v1/nat/mappings needs ?containerId=ID (or DELETE /v1/nat/mappings/{protocol}/{port})")
                }
                try FieldRules.containerId(id)
                try nat.deleteMappings(containerId: id)
                return .noContent
            default:
                let body = try APIJSON.decodeRequest(NATMapping.self, from: request.body)
                return .json(try nat.addMapping(body), status: 201)
            }

        case let path where path.count == 4 && path[0] == "nat" && path[1] == "mappings":
            try allow(["DELETE"], request)
            guard let port = Int(path[3]) else {
                throw ControlError(.badRequest, code: "invalid_parameter", message: "port \"\(path[3])\" is not a number", field: "port")
            }
            try nat.deleteMapping(protocol: path[2], externalPort: port)
            return .noContent

        case ["nat", "config"]:
            try allow(["GET", "PUT"], request)
            if method == "GET" { return .json(try nat.config()) }
            let body = try APIJSON.decodeRequest(NATConfig.self, from: request.body)
            return .json(try nat.updateConfig(body))

        case ["nat", "sessions"]:
            try allow(["GET"], request)
            var limit: Int?
            if let text = request.query["limit"] {
                guard let n = Int(text) else {
                    throw ControlError(.badRequest, code: "invalid_parameter", message: "limit \"\(text)\" is not a number", field: "limit")
                }
                limit = n
            }
            return .json(try nat.sessions(limit: limit))

        case ["nat", "statistics"]:
            try allow(["GET"], request)
            return .json(nat.statistics())

        case ["neighbors"]:
            try allow(["GET"], request)
            return .json(dataplane.neighbors())

        case ["adjacencies"]:
            try allow(["GET"], request)
            return .json(dataplane.adjacencies())

        case ["runtime"]:
            try allow(["GET"], request)
            return .json(dataplane.runtime())

        case ["runtime", "clear"]:
            try allow(["POST"], request)
            dataplane.clearRuntime()
            return .noContent

        case ["errors"]:
            try allow(["GET"], request)
            return .json(dataplane.errors() + refusals.counters())

        case ["bridge-domains"]:
            try allow(["GET"], request)
            return .json(dataplane.bridgeDomains(detail: try detailFlag(request)))

        case let path where path.count == 2 && path[0] == "bridge-domains":
            try allow(["GET"], request)
            guard let id = UInt32(path[1]) else {
                throw ControlError(.badRequest, code: "invalid_parameter",
                                   message: "bridge domain id \"\(path[1])\" is not a number", field: "id")
            }
            let detail = try detailFlag(request)
            guard let domain = dataplane.bridgeDomains(detail: detail).first(where: { $0.id == id }) else {
                throw ControlError(.notFound, code: "bridge_domain_not_found", message: "bridge domain \(id) does not exist")
            }
            return .json(domain)

        case ["trace"]:
            try allow(["GET", "POST", "DELETE"], request)
            switch method {
            case "GET":
                return .json(dataplane.traceShow())
            case "DELETE":
                dataplane.traceClear()
                return .noContent
            default:
                let body = try APIJSON.decodeRequest(TraceAddRequest.self, from: request.body)
                try traceAdd(body)
                return .noContent
            }

        default:
            if let response = try routePcap(Array(segments.dropFirst()), request) { return response }
            throw notFound(request)
        }
    }

    private func traceAdd(_ request: TraceAddRequest) throws {
        try FieldRules.check(request.count, in: FieldRules.traceCountRange, field: "count")
        do {
            try dataplane.traceAdd(node: request.node, count: request.count)
        } catch DataplaneError.notFound(let message) {
            throw ControlError(.notFound, code: "node_not_found",
                               message: "no graph node named \"\(request.node)\" (\(message))", field: "node")
        } catch DataplaneError.invalid(let message) {
            throw ControlError(.badRequest, code: "not_input_node",
                               message: "\"\(request.node)\" is not an input node; trace starts at an input such as af-packet-input (\(message))",
                               field: "node")
        } catch {
            throw ControlError.wrap(error, code: "dataplane_error", context: "trace add \(request.node)")
        }
    }

    /// FIB table `vrf`; with `prefix` "a.b.c.d/len" the exact entry, with an
    /// address the longest match for it (as `show ip fib` does).
    private func fib(matching text: String?, vrf: Int) throws -> [RouteInfo] {
        guard let text else { return dataplane.routes(vrf: UInt32(vrf)) }
        if text.contains("/") {
            let p = try RouteService.parsePrefix(text)
            return dataplane.route(vrf: UInt32(vrf), address: p.address.value, length: p.length).map { [$0] } ?? []
        }
        guard let address = IPv4Address(text) else {
            throw ControlError.invalidField("prefix", "prefix \"\(text)\" is neither an IPv4 address nor a.b.c.d/len")
        }
        return dataplane.route(vrf: UInt32(vrf), address: address.value, length: nil).map { [$0] } ?? []
    }

    /// `?vrf=N`: nil when absent; not a number or out of range is a 400.
    private func vrfQuery(_ request: APIRequest) throws -> Int? {
        guard let text = request.query["vrf"] else { return nil }
        guard let n = Int(text) else {
            throw ControlError(.badRequest, code: "invalid_parameter", message: "vrf \"\(text)\" is not a number", field: "vrf")
        }
        return try RouteService.vrf(n)
    }

    private func detailFlag(_ request: APIRequest) throws -> Bool {
        switch request.query["detail"] {
        case nil, "false", "0": return false
        case "true", "1", "": return true
        case let other?:
            throw ControlError(.badRequest, code: "invalid_parameter",
                               message: "query parameter detail=\(other) must be true or false", field: "detail")
        }
    }

    func allow(_ methods: [String], _ request: APIRequest) throws {
        guard methods.contains(request.method) else {
            throw MethodNotAllowed(allowed: methods, error: ControlError(
                .methodNotAllowed, code: "method_not_allowed",
                message: "\(request.method) is not allowed on \(request.path); use \(methods.joined(separator: " or "))"))
        }
    }

    private func notFound(_ request: APIRequest) -> ControlError {
        ControlError(.notFound, code: "not_found",
                     message: "no such endpoint: \(request.method) \(request.path) (see docs/api/openapi.yaml)")
    }
}

/// 405 needs an Allow header besides the error body.
struct MethodNotAllowed: Error {
    var allowed: [String]
    var error: ControlError
}

extension String {
    var removingPercentEncodingOrSelf: String { removingPercentEncoding ?? self }
}
