import ArgumentParser
import Foundation
import WeftControl

struct RouteCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "route", abstract: "Add, delete, list and bulk-load static IPv4 routes.",
        subcommands: [RouteAdd.self, RouteDel.self, RouteList.self, RouteLoad.self])

    static func render(_ routes: [AddRouteRequest]) -> String {
        var table = TextTable([.init("Prefix"), .init("Next hop")])
        for route in routes { table.add([route.prefix, route.nextHop]) }
        return table.render()
    }

    static func renderFIB(_ routes: [RouteInfo]) -> String {
        var table = TextTable([.init("Prefix"), .init("Kind"), .init("Next hop"), .init("Interface"), .init("Adj", .right)])
        for r in routes { table.add([r.prefix, r.kind, r.nextHop ?? "-", r.interface ?? "-", String(r.adjacency)]) }
        return table.render()
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
        commandName: "add", abstract: "Route PREFIX via NEXTHOP (a host on a network's subnet).",
        usage: "weftctl route add <prefix> via <next-hop> [--json] [--socket <path>]")
    @OptionGroup var options: GlobalOptions
    @Argument(help: ArgumentHelp("PREFIX via NEXTHOP, e.g. 10.70.0.0/16 via 10.61.0.5", valueName: "prefix via next-hop"))
    var words: [String] = []

    func validate() throws {
        guard words.count == 3, words[1] == "via" else {
            throw ValidationError("expected: route add <prefix> via <next-hop>")
        }
    }

    func run() throws {
        try reportingFailures {
            let response = try options.api.call("POST", "/v1/routes", body: AddRouteRequest(prefix: words[0], nextHop: words[2]))
            if options.json { return printJSON(response.body) }
            print(RouteCommand.render([try options.api.decode(AddRouteRequest.self, response)]))
        }
    }
}

struct RouteDel: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "del", abstract: "Delete the static route for PREFIX.")
    @OptionGroup var options: GlobalOptions
    @Argument(help: "Prefix, e.g. 10.70.0.0/16.") var prefix: String

    func run() throws {
        try reportingFailures { _ = try options.api.call("DELETE", "/v1/routes?prefix=\(prefix.queryValue)") }
    }
}

struct RouteList: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List the configured static routes.")
    @OptionGroup var options: GlobalOptions

    func run() throws {
        try reportingFailures {
            let (routes, raw) = try options.api.get("/v1/routes/static", as: [AddRouteRequest].self)
            if options.json { return printJSON(raw) }
            print(RouteCommand.render(routes))
        }
    }
}

struct RouteLoad: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "load",
        abstract: "Add the routes in FILE, one \"prefix next-hop\" per line ('#' comments), all or none.")
    @OptionGroup var options: GlobalOptions
    @Argument(help: "Route file.") var file: String

    func run() throws {
        try reportingFailures {
            guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
                throw CLIFailure.apiError("cannot read \(file)")
            }
            var routes: [AddRouteRequest] = []
            for (n, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                let line = raw.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
                let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" }).map(String.init)
                if fields.isEmpty { continue }
                let words = fields.count == 3 && fields[1] == "via" ? [fields[0], fields[2]] : fields
                guard words.count == 2 else { throw CLIFailure.apiError("\(file):\(n + 1): expected \"prefix next-hop\"") }
                routes.append(AddRouteRequest(prefix: words[0], nextHop: words[1]))
            }
            guard !routes.isEmpty else { throw CLIFailure.apiError("\(file): no routes") }
            let response = try options.api.call("POST", "/v1/routes/bulk", body: BulkRoutesRequest(routes: routes))
            if options.json { return printJSON(response.body) }
            print("loaded \(routes.count) route(s)")
        }
    }
}

struct ShowFIB: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fib", abstract: "The IPv4 FIB; with an address its longest match, with a prefix that entry.")
    @OptionGroup var options: GlobalOptions
    @Argument(help: "An address (longest match) or a.b.c.d/len (exact).") var prefix: String?

    func run() throws {
        try reportingFailures {
            let path = prefix.map { "/v1/routes?prefix=\($0.queryValue)" } ?? "/v1/routes"
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
