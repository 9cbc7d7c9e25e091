import ArgumentParser
import Foundation
import WeftControl

struct NATCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "nat", abstract: "NAT44: port mappings of the uplink's address, timeouts and exclusions.",
        subcommands: [NATMappingCommand.self, NATConfigCommand.self])
}

struct NATMappingCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mapping", abstract: "Add, list and delete static port mappings (DNAT).",
        subcommands: [NATMappingAdd.self, NATMappingList.self, NATMappingDelete.self])

    static func render(_ mappings: [NATMapping]) -> String {
        var table = TextTable([.init("Protocol"), .init("External"), .init("Internal"), .init("Container")])
        for m in mappings {
            table.add([m.protocol, "\(m.externalAddress ?? "(no uplink)"):\(m.externalPort)",
                       "\(m.internalAddress):\(m.internalPort)", m.containerId ?? "-"])
        }
        return table.render()
    }
}

struct NATMappingAdd: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add", abstract: "Forward the uplink address's PORT to a container's address:port.")
    @OptionGroup var options: GlobalOptions
    @Option(name: .customLong("protocol"), help: "tcp or udp.") var proto = "tcp"
    @Option(name: .customLong("external-port"), help: "Port of the uplink's address.") var externalPort: Int
    @Option(help: "Container address:port, e.g. 10.1.0.5:80.") var to: String
    @Option(name: .customLong("container"), help: "Owning container id: the mapping goes when it is detached.") var containerId: String?

    func run() throws {
        try reportingFailures {
            let parts = to.split(separator: ":")
            guard parts.count == 2, let port = Int(parts[1]) else {
                throw CLIFailure.apiError("--to must be ADDRESS:PORT, e.g. 10.1.0.5:80")
            }
            let request = NATMapping(protocol: proto, externalPort: externalPort, internalAddress: String(parts[0]),
                                     internalPort: port, containerId: containerId)
            let response = try options.api.call("POST", "/v1/nat/mappings", body: request)
            if options.json { return printJSON(response.body) }
            print(NATMappingCommand.render([try options.api.decode(NATMapping.self, response)]))
        }
    }
}

struct NATMappingList: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List static port mappings.")
    @OptionGroup var options: GlobalOptions

    func run() throws {
        try reportingFailures {
            let (mappings, raw) = try options.api.get("/v1/nat/mappings", as: [NATMapping].self)
            if options.json { return printJSON(raw) }
            print(NATMappingCommand.render(mappings))
        }
    }
}

struct NATMappingDelete: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "delete", abstract: "Delete a static port mapping.",
                                                    aliases: ["del"])
    @OptionGroup var options: GlobalOptions
    @Argument(help: "tcp or udp.") var proto: String
    @Argument(help: "External port.") var port: Int

    func run() throws {
        try reportingFailures { _ = try options.api.call("DELETE", "/v1/nat/mappings/\(proto.pathSegment)/\(port)") }
    }
}

struct NATConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config", abstract: "Show or change NAT timeouts (seconds) and excluded destinations.")
    @OptionGroup var options: GlobalOptions
    @Option(name: .customLong("udp-timeout")) var udp: Int?
    @Option(name: .customLong("tcp-established-timeout")) var tcpEstablished: Int?
    @Option(name: .customLong("tcp-transitory-timeout")) var tcpTransitory: Int?
    @Option(name: .customLong("icmp-timeout")) var icmp: Int?
    @Option(help: "Comma-separated CIDRs never translated (cluster CIDRs); \"\" clears.") var exclude: String?

    func run() throws {
        try reportingFailures {
            let config: NATConfig
            let raw: [UInt8]
            if udp == nil && tcpEstablished == nil && tcpTransitory == nil && icmp == nil && exclude == nil {
                (config, raw) = try options.api.get("/v1/nat/config", as: NATConfig.self)
            } else {
                let list = exclude.map { $0.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) } }
                let request = NATConfig(udpTimeout: udp, tcpEstablishedTimeout: tcpEstablished, tcpTransitoryTimeout: tcpTransitory,
                                        icmpTimeout: icmp, exclude: list)
                let response = try options.api.call("PUT", "/v1/nat/config", body: request)
                (config, raw) = (try options.api.decode(NATConfig.self, response), response.body)
            }
            if options.json { return printJSON(raw) }
            var table = TextTable([.init("Setting"), .init("Value")])
            table.add(["udp timeout (s)", config.udpTimeout.map(String.init) ?? "-"])
            table.add(["tcp established timeout (s)", config.tcpEstablishedTimeout.map(String.init) ?? "-"])
            table.add(["tcp transitory timeout (s)", config.tcpTransitoryTimeout.map(String.init) ?? "-"])
            table.add(["icmp timeout (s)", config.icmpTimeout.map(String.init) ?? "-"])
            table.add(["exclude", (config.exclude ?? []).isEmpty ? "-" : config.exclude!.joined(separator: ", ")])
            table.add(["max sessions", config.maxSessions.map(String.init) ?? "-"])
            table.add(["port range", config.portRange ?? "-"])
            print(table.render())
        }
    }
}

/// `show nat sessions [--summary]`, `show nat statistics`.
struct ShowNAT: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "nat", abstract: "NAT44 state.",
                                                    subcommands: [ShowNATSessions.self, ShowNATStatistics.self])

    static func render(_ s: NATStatistics) -> String {
        var table = TextTable([.init("Counter"), .init("Value", .right)])
        table.add(["outside address", s.outsideAddress ?? "(no uplink)"])
        table.add(["sessions", "\(s.sessions) of \(s.maxSessions)"])
        table.add(["  tcp / udp / icmp", "\(s.tcpSessions) / \(s.udpSessions) / \(s.icmpSessions)"])
        table.add(["ports in use tcp / udp / icmp ids", "\(s.tcpPortsInUse) / \(s.udpPortsInUse) / \(s.icmpIdsInUse)"])
        table.add(["static mappings", String(s.staticMappings)])
        table.add(["sessions created", String(s.created)])
        table.add(["sessions expired", String(s.expired)])
        table.add(["refused: session limit", String(s.refusedSessionLimit)])
        table.add(["refused: out of ports", String(s.refusedOutOfPorts)])
        return table.render()
    }
}

struct ShowNATSessions: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "sessions", abstract: "NAT sessions, most recently used first.")
    @OptionGroup var options: GlobalOptions
    @Flag(help: "Counts only (as show nat statistics).") var summary = false
    @Option(help: "At most this many sessions.") var limit = 1000

    func run() throws {
        try reportingFailures {
            if summary {
                let (stats, raw) = try options.api.get("/v1/nat/statistics", as: NATStatistics.self)
                if options.json { return printJSON(raw) }
                return print(ShowNAT.render(stats))
            }
            let (sessions, raw) = try options.api.get("/v1/nat/sessions?limit=\(limit)", as: [NATSession].self)
            if options.json { return printJSON(raw) }
            var table = TextTable([.init("Proto"), .init("Inside"), .init("Outside"), .init("Remote"), .init("State"),
                                   .init("Age(s)", .right), .init("Flags")])
            for s in sessions {
                let flags = [s.isStatic ? "static" : nil, s.isHairpin ? "hairpin" : nil].compactMap { $0 }.joined(separator: ",")
                table.add([s.protocol, s.inside, s.outside, s.remote, s.state, String(s.ageSeconds), flags.isEmpty ? "-" : flags])
            }
            print(table.render())
        }
    }
}

struct ShowNATStatistics: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "statistics", abstract: "NAT session table and refusals.")
    @OptionGroup var options: GlobalOptions

    func run() throws {
        try reportingFailures {
            let (stats, raw) = try options.api.get("/v1/nat/statistics", as: NATStatistics.self)
            if options.json { return printJSON(raw) }
            print(ShowNAT.render(stats))
        }
    }
}
