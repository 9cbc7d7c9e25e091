import ArgumentParser
import Foundation
import WeftControl

struct RouteCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "route", abstract: "Add, delete, list and bulk-load static IPv4 routes.",
        subcommands: [RouteAdd.self, RouteDel.self, RouteList.self, RouteLoad.self])

    static func render(_ routes: [AddRouteRequest]) -> String {
        var table = TextTable([.init("VRF", .right), .init("Prefix"), .init("Next hop")])
        for route in routes { table.add([String(route.vrf ?? 0), route.prefix, route.nextHop]) }
        return table.render()
    }

    static func renderFIB(_ routes: [RouteInfo]) -> String {
        var table = TextTable([.init("VRF", .right), .init("Prefix"), .init("Kind"), .init("Next hop"), .init("Interface"), .init("Adj", .right)])
        for r in routes {
            table.add([String(r.vrf ?? 0), r.prefix, r.kind, r.nextHop ?? "-", r.interface ?? "-", String(r.adjacency)])
        }
        return table.render()
    }

    /// `&vrf=N` for a query string (nothing for the default table).
    static func vrfQuery(_ vrf: Int?, first: Bool = false) -> String {
        guard let vrf else { return "" }
        return (first ? "?" : "&") + "vrf=\(vrf)"
    }
}

extension String {
    /// Percent-encodes a value for a query string.
    var queryValue: String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~/")
        return addingPercentEncoding(withAllowedCharacters: allowed) ?? self
    }
}

struct RouteAdd: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add", abstract: "Route PREFIX via NEXTHOP (a host on the subnet of a network in the same VRF).",
        usage: "weftctl route add <prefix> via <next-hop> [--vrf <n>] [--json] [--socket <path>]")
    @OptionGroup var options: GlobalOptions
    @Argument(help: ArgumentHelp("PREFIX via NEXTHOP, e.g. 10.70.0.0/16 via 10.61.0.5", valueName: "prefix via next-hop"))
    var words: [String] = []
    @Option(help: "VRF (FIB table) of the route, 0 to 1023 (default 0).") var vrf: Int?

    func validate() throws {
        guard words.count == 3, words[1] == "via" else {
            throw ValidationError("expected: route add <prefix> via <next-hop>")
        }
    }

    func run() throws {
        try reportingFailures {
            let response = try options.api.call("POST", "/v1/routes", body: AddRouteRequest(prefix: words[0], nextHop: words[2], vrf: vrf))
            if options.json { return printJSON(response.body) }
            print(RouteCommand.render([try options.api.decode(AddRouteRequest.self, response)]))
        }
    }
}

struct RouteDel: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "del", abstract: "Delete the static route for PREFIX.")
    @OptionGroup var options: GlobalOptions
    @Argument(help: "Prefix, e.g. 10.70.0.0/16.") var prefix: String
    @Option(help: "VRF of the route (default 0).") var vrf: Int?

    func run() throws {
        try reportingFailures {
            _ = try options.api.call("DELETE", "/v1/routes?prefix=\(prefix.queryValue)" + RouteCommand.vrfQuery(vrf))
        }
    }
}

struct RouteList: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List the configured static routes (all VRFs, or one).")
    @OptionGroup var options: GlobalOptions
    @Option(help: "Only the routes of this VRF.") var vrf: Int?

    func run() throws {
        try reportingFailures {
            let (routes, raw) = try options.api.get("/v1/routes/static" + RouteCommand.vrfQuery(vrf, first: true), as: [AddRouteRequest].self)
            if options.json { return printJSON(raw) }
            print(RouteCommand.render(routes))
        }
    }
}

struct RouteLoad: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "load",
        abstract: "Add the routes in FILE, one \"prefix next-hop\" per line ('#' comments), all or none.",
        discussion: """
            The file goes to weftd as text in POST /v1/routes/bulk, which checks every route before \
            recording and programming any. A file larger than --chunk-bytes is sent in several \
            requests (split at line ends), and so is a file weftd refuses as too large (HTTP 413: \
            weftctl splits it below the limit weftd names and starts over). Each request is all or \
            nothing; a failing one stops the load after the routes of the requests before it \
            (weftctl says how many).
            """)
    @OptionGroup var options: GlobalOptions
    @Argument(help: "Route file.") var file: String
    @Option(help: "VRF (FIB table) of every route in the file (default 0).") var vrf: Int?
    @Option(name: .customLong("chunk-bytes"),
            help: "Largest piece of the file per request; keep it below weftd's api_max_body_bytes (default 64 MiB).")
    var chunkBytes: Int = RouteLoad.defaultChunkBytes
    @Option(help: "Seconds to wait for weftd's answer to each request.") var timeout: Int = 600

    /// 48 MiB of route text is ~50 MiB of JSON (each newline becomes two
    /// bytes): 1.7M routes per request, under the 64 MiB body limit.
    static let defaultChunkBytes = 48 << 20

    /// Splits `bytes` at line ends into pieces of at most `limit` bytes
    /// (a single longer line makes its own piece): (range, first line number).
    static func chunks(_ bytes: [UInt8], limit: Int) -> [(Range<Int>, Int)] {
        var out: [(Range<Int>, Int)] = []
        var start = 0, line = 1
        while start < bytes.count {
            var end = min(start + max(1, limit), bytes.count)
            if end < bytes.count {
                var cut = end
                while cut > start && bytes[cut - 1] != 0x0A { cut -= 1 }
                if cut == start {               // one line longer than the limit
                    cut = end
                    while cut < bytes.count && bytes[cut - 1] != 0x0A { cut += 1 }
                }
                end = cut
            }
            out.append((start..<end, line))
            line += bytes[start..<end].reduce(0) { $0 + ($1 == 0x0A ? 1 : 0) }
            start = end
        }
        return out
    }

    /// The body limit a 413 answer names ("... exceeds N bytes"), if any.
    /// The byte limit a 413 names ("... exceeds the limit of N bytes ..."); the
    /// message also gives the announced size, which is larger, so the number
    /// must be the one after "limit of".
    static func limit(in message: String) -> Int? {
        guard let r = message.range(of: "limit of ") else { return nil }
        return Int(message[r.upperBound...].prefix(while: \.isNumber))
    }

    func run() throws {
        try reportingFailures {
            guard let data = FileManager.default.contents(atPath: file) else {
                throw CLIFailure.apiError("cannot read \(file)")
            }
            let bytes = [UInt8](data)
            let client = UnixHTTPClient(socketPath: options.socket, timeoutSeconds: max(1, timeout))
            let api = WeftAPI(client: client)
            var limit = max(1, chunkBytes)
            var added = 0
            resend: while true {
                added = 0
                for (i, (range, firstLine)) in Self.chunks(bytes, limit: limit).enumerated() {
                    let request = BulkRoutesRequest(text: String(decoding: bytes[range], as: UTF8.self), vrf: vrf,
                                                    firstLine: firstLine)
                    let payload: [UInt8]
                    do { payload = try APIJSON.encode(request) } catch { throw CLIFailure.apiError("cannot encode the request: \(error)") }
                    let response: UnixHTTPClient.Response
                    do {
                        response = try client.send(method: "POST", path: "/v1/routes/bulk", body: payload)
                    } catch let error as UnixHTTPClient.ClientError {
                        throw CLIFailure.unreachable(error.description)
                    }
                    let message = (try? JSONDecoder().decode(ErrorResponse.self, from: Data(response.body)))?.error.message
                        ?? "weftd answered HTTP \(response.status): \(response.bodyText)"
                    if response.status == 413 && i == 0 && limit > 4096 {
                        // weftd takes smaller bodies (api_max_body_bytes): split the file
                        // finer, leaving room for JSON escaping, and start over.
                        let smaller = Self.limit(in: message).map { $0 / 10 * 9 } ?? limit / 2
                        limit = max(4096, min(limit / 2, smaller))
                        continue resend
                    }
                    guard (200..<300).contains(response.status) else {
                        if i > 0 { throw CLIFailure.apiError("\(file): \(added) route(s) loaded, then from line \(firstLine) on: \(message)") }
                        if message.contains("holds no routes") { throw CLIFailure.apiError("\(file): no routes") }
                        throw CLIFailure.apiError(message)
                    }
                    added += (try? api.decode(BulkRoutesResponse.self, response).added) ?? 0
                }
                break
            }
            guard added > 0 else { throw CLIFailure.apiError("\(file): no routes") }
            if options.json { return printJSON(Array(#"{"added":\#(added)}"#.utf8)) }
            print("loaded \(added) route(s)" + (vrf.map { " in vrf \($0)" } ?? ""))
        }
    }
}

struct ShowFIB: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fib", abstract: "The IPv4 FIB of a VRF; with an address its longest match, with a prefix that entry.")
    @OptionGroup var options: GlobalOptions
    @Argument(help: "An address (longest match) or a.b.c.d/len (exact).") var prefix: String?
    @Option(help: "VRF (FIB table) to show (default 0).") var vrf: Int?

    func run() throws {
        try reportingFailures {
            let path = (prefix.map { "/v1/routes?prefix=\($0.queryValue)" + RouteCommand.vrfQuery(vrf) }
                        ?? "/v1/routes" + RouteCommand.vrfQuery(vrf, first: true))
            let (routes, raw) = try options.api.get(path, as: [RouteInfo].self)
            if options.json { return printJSON(raw) }
            print(RouteCommand.renderFIB(routes))
        }
    }
}

struct ShowNeighbors: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "neighbors", abstract: "The IPv4 neighbour (ARP) table.")
    @OptionGroup var options: GlobalOptions

    func run() throws {
        try reportingFailures {
            let (neighbors, raw) = try options.api.get("/v1/neighbors", as: [NeighborInfo].self)
            if options.json { return printJSON(raw) }
            var table = TextTable([.init("Address"), .init("MAC"), .init("Interface"), .init("State"), .init("Age(s)", .right), .init("Flags")])
            for n in neighbors {
                table.add([n.address, n.mac ?? "-", n.interface, n.state, String(n.ageSeconds), n.isStatic ? "S" : "D"])
            }
            print(table.render())
        }
    }
}

struct ShowAdjacencies: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "adjacencies", abstract: "IPv4 adjacencies and their rewrites.")
    @OptionGroup var options: GlobalOptions

    func run() throws {
        try reportingFailures {
            let (adjacencies, raw) = try options.api.get("/v1/adjacencies", as: [AdjacencyInfo].self)
            if options.json { return printJSON(raw) }
            var table = TextTable([.init("Index", .right), .init("Kind"), .init("Interface"), .init("Next hop"), .init("MTU", .right), .init("Rewrite")])
            for a in adjacencies {
                table.add([String(a.index), a.kind, a.interface ?? "-", a.nextHop ?? "-", String(a.mtu), a.rewrite ?? "-"])
            }
            print(table.render())
        }
    }
}
