// weft-fuzz-api: the control API's request decoding and field validation,
// without sockets, store or dataplane (docs/fuzzing.md).
//
// Input: byte 0 picks what the rest is: the JSON body of one request type
// (decoded by APIJSON.decodeRequest exactly as the router does, then every
// field through the validators its service applies), or an HTTP request
// target ("/v1/routes?prefix=..."), split and percent-decoded as
// APIRequest does. Every thrown error must become a JSON error response.
import WeftFuzzDriver
@testable import WeftControl

/// A validation failure is an answer, not a bug; encode it as the API would.
func judge(_ step: () throws -> Void) {
    do { try step() } catch let error as ControlError {
        let response = APIResponse.error(error)
        fuzzCheck(response.status >= 400 && response.body != nil, "error \(error) became status \(response.status)")
    } catch {
        _ = APIResponse.error(ControlError(.badRequest, code: "invalid", message: "\(error)"))
    }
}

func validate<T: Decodable>(_ type: T.Type, _ body: [UInt8], _ check: @escaping (T) throws -> Void) {
    judge { try check(try APIJSON.decodeRequest(type, from: body)) }
}

func subnet(_ text: String) throws -> IPv4Subnet { try IPv4Subnet.parse(text) }

let cases: [([UInt8]) -> Void] = [
    { validate(CreateNetworkRequest.self, $0) { r in
        try FieldRules.networkName(r.name)
        let s = try subnet(r.subnet)
        if let mtu = r.mtu { try FieldRules.mtu(mtu) }
        if let bd = r.bridgeDomain { try FieldRules.check(bd, in: FieldRules.bridgeDomainRange, field: "bridgeDomain") }
        if let age = r.macAgeSeconds { try FieldRules.check(age, in: FieldRules.macAgeRange, field: "macAgeSeconds") }
        if let limit = r.learnLimit { try FieldRules.check(limit, in: FieldRules.learnLimitRange, field: "learnLimit") }
        if let vni = r.vni { try FieldRules.check(vni, in: FieldRules.vniRange, field: "vni") }
        _ = try NetworkService.parseRange(r.rangeStart, r.rangeEnd, in: s)
    } },
    { validate(CreateAttachmentRequest.self, $0) { r in
        try FieldRules.containerId(r.containerId)
        try FieldRules.netnsPath(r.netns)
        try FieldRules.ifName(r.ifName ?? FieldRules.defaultIfName)
        try FieldRules.networkName(r.network, field: "network")
        if let mtu = r.mtu { try FieldRules.mtu(mtu) }
        if let address = r.address { _ = try AttachmentService.parseAddress(address) }
        if let gateway = r.gateway { _ = try AttachmentService.parseAddress(gateway) }
        _ = try FieldRules.attachOptions(attach: r.attach, driver: r.driver, queues: r.queues)
    } },
    { validate(AddInterfaceRequest.self, $0) { r in
        try FieldRules.linkName(r.name)
        try FieldRules.networkName(r.network, field: "network")
        _ = try FieldRules.portDriver(r.driver)
    } },
    { validate(TraceAddRequest.self, $0) { r in try FieldRules.check(r.count, in: FieldRules.traceCountRange, field: "count") } },
    { validate(AddRouteRequest.self, $0) { r in
        _ = try RouteService.parsePrefix(r.prefix)
        guard IPv4Address(r.nextHop) != nil else { throw ControlError.invalidField("nextHop", "not an address") }
    } },
    { validate(BulkRoutesRequest.self, $0) { r in
        for route in (r.routes ?? []).prefix(64) { _ = try RouteService.parsePrefix(route.prefix) }
    } },
    { validate(UplinkRequest.self, $0) { r in
        try FieldRules.linkName(r.name)
        _ = try UplinkService.parse(address: r.address, gateway: r.gateway)
    } },
    { validate(CreateTunnelRequest.self, $0) { r in
        try FieldRules.networkName(r.network, field: "network")
        guard IPv4Address(r.remote) != nil else { throw ControlError.invalidField("remote", "not an address") }
        if let vni = r.vni { try FieldRules.check(vni, in: FieldRules.vniRange, field: "vni") }
        if let port = r.port { try FieldRules.check(port, in: FieldRules.udpPortRange, field: "port") }
    } },
    { validate(NATMapping.self, $0) { r in _ = try NATService.parseProtocol(r.protocol) } },
    { validate(NATConfig.self, $0) { _ in } },
    { validate(CreateCaptureRequest.self, $0) { r in try CaptureService.checkOutputFile(r.file) } },
    { validate(CreateReplayRequest.self, $0) { r in
        try ReplayService.checkName(r.name)
        try FieldRules.networkName(r.network, field: "network")
    } },
    { body in
        // A request target as the NIO handler passes it, then the router's path split.
        let request = APIRequest(method: "GET", target: String(decoding: body, as: UTF8.self), body: [])
        _ = request.path.split(separator: "/").map { String($0).removingPercentEncodingOrSelf }
        if let prefix = request.query["prefix"] { judge { _ = try RouteService.parsePrefix(prefix) } }
    },
]

runFuzzer { data in
    guard let selector = data.first else { return }
    cases[Int(selector) % cases.count](Array(data.dropFirst()))
}
