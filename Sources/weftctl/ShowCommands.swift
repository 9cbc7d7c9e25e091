import ArgumentParser
import Foundation
import WeftControl

struct Show: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show dataplane state.",
        subcommands: [ShowInterfaces.self, ShowRuntime.self, ShowErrors.self, ShowBridgeDomain.self, ShowTrace.self,
                      ShowFIB.self, ShowNeighbors.self, ShowAdjacencies.self, ShowVXLAN.self, ShowNAT.self,
                      ShowAttachments.self])
}

struct ShowInterfaces: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "interfaces", abstract: "Interfaces and their counters.")
    @OptionGroup var options: GlobalOptions

    func run() throws {
        try reportingFailures {
            let (interfaces, raw) = try options.api.get("/v1/interfaces", as: [InterfaceInfo].self)
            if options.json { return printJSON(raw) }
            print(InterfaceCommand.render(interfaces))
        }
    }
}

struct ShowRuntime: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "runtime", abstract: "Per-node calls, vectors, clocks and (inputs, outputs) bytes.")
    @OptionGroup var options: GlobalOptions

    func run() throws {
        try reportingFailures {
            let (nodes, raw) = try options.api.get("/v1/runtime", as: [NodeRuntimeInfo].self)
            if options.json { return printJSON(raw) }
            var table = TextTable([.init("Name"), .init("State"), .init("Calls", .right), .init("Vectors", .right),
                                   .init("Clocks/pkt", .right), .init("Vectors/Call", .right),
                                   .init("Bytes/Call", .right), .init("Clocks/Byte", .right)])
            for node in nodes {
                // Bytes only for the nodes that move them (inputs and outputs).
                let moved = node.bytes != 0, worker = node.state == "worker"   // worker rows: totals only
                table.add([node.name, node.state, String(node.calls), String(node.vectors),
                           worker ? "-" : String(format: "%.2f", node.clocksPerPacket),
                           worker ? "-" : String(format: "%.2f", node.vectorsPerCall),
                           moved ? String(format: "%.0f", node.bytesPerCall) : "-",
                           moved ? String(format: "%.3f", node.clocksPerByte) : "-"])
            }
            print(table.render())
            // The worker rows as shares of its time: where an idle core goes.
            let w = Dictionary(nodes.filter { $0.state == "worker" }.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
            if let busy = w["worker-busy"], let spin = w["worker-spin"], let sleep = w["worker-sleep"] {
                let total = Double(busy.clocks + spin.clocks + sleep.clocks)
                let share = { (c: UInt64) in total == 0 ? 0 : 100 * Double(c) / total }
                print(String(format: "worker: busy %.1f %%, spinning %.1f %%, asleep %.1f %% (%llu sleeps, %llu woken by a packet or a request)",
                             share(busy.clocks), share(spin.clocks), share(sleep.clocks), sleep.calls, sleep.vectors))
            }
        }
    }
}

struct ShowErrors: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "errors", abstract: "Error counters (as VPP, only the non-zero ones; --json gives all).")
    @OptionGroup var options: GlobalOptions

    func run() throws {
        try reportingFailures {
            let (counters, raw) = try options.api.get("/v1/errors", as: [ErrorCounterInfo].self)
            if options.json { return printJSON(raw) }
            var table = TextTable([.init("Count", .right), .init("Node"), .init("Reason")])
            for counter in counters where counter.count > 0 {
                table.add([String(counter.count), counter.node, counter.description])
            }
            print(table.render())
        }
    }
}

struct ShowBridgeDomain: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bridge-domain", abstract: "Bridge domains; `detail` adds the MAC table.",
        usage: "weftctl show bridge-domain [<id>] [detail] [--json] [--socket <path>]")
    @OptionGroup var options: GlobalOptions
    @Argument(help: ArgumentHelp("An optional bridge domain id, and/or the word `detail`.", valueName: "id|detail"))
    var words: [String] = []

    func validate() throws { _ = try parsedWords() }

    /// `[ID] [detail]`, in either order, as VPP's CLI takes them.
    private func parsedWords() throws -> (id: UInt32?, detail: Bool) {
        var id: UInt32?
        var detail = false
        for word in words {
            if word == "detail" {
                detail = true
            } else if let number = UInt32(word), id == nil {
                id = number
            } else {
                throw ValidationError("expected a bridge domain id and/or `detail`, got \"\(word)\"")
            }
        }
        return (id, detail)
    }

    func run() throws {
        let (id, detail) = try parsedWords()
        try reportingFailures {
            let query = "?detail=\(detail)"
            let domains: [BridgeDomainInfo]
            let raw: [UInt8]
            if let id {
                let (domain, body) = try options.api.get("/v1/bridge-domains/\(id)\(query)", as: BridgeDomainInfo.self)
                (domains, raw) = ([domain], body)
            } else {
                (domains, raw) = try options.api.get("/v1/bridge-domains\(query)", as: [BridgeDomainInfo].self)
            }
            if options.json { return printJSON(raw) }
            print(Self.render(domains, detail: detail))
        }
    }

    static func render(_ domains: [BridgeDomainInfo], detail: Bool) -> String {
        func summary(_ domains: [BridgeDomainInfo]) -> String {
            var table = TextTable([.init("BD-ID", .right), .init("Learning"), .init("Learned", .right),
                                   .init("Learn-limit", .right), .init("Age(s)", .right), .init("Interfaces")])
            for domain in domains {
                table.add([String(domain.id), domain.learning ? "on" : "off", String(domain.learned),
                           String(domain.learnLimit), String(domain.macAgeSeconds),
                           domain.interfaces.isEmpty ? "-" : domain.interfaces.joined(separator: ", ")])
            }
            return table.render()
        }
        guard detail else { return summary(domains) }
        var sections: [String] = []
        for domain in domains {
            var macs = TextTable([.init("MAC"), .init("Interface"), .init("Age(s)", .right)])
            for entry in domain.macs ?? [] {
                macs.add([entry.mac, entry.interface, entry.isStatic == true ? "static" : String(entry.ageSeconds)])
            }
            sections.append(summary([domain]) + "\n\n" + macs.render(indent: "  "))
        }
        return sections.joined(separator: "\n\n")
    }
}

struct ShowTrace: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "trace", abstract: "Packets captured by `trace add`.")
    @OptionGroup var options: GlobalOptions

    func run() throws {
        try reportingFailures {
            let (packets, raw) = try options.api.get("/v1/trace", as: [TracedPacketInfo].self)
            if options.json { return printJSON(raw) }
            if packets.isEmpty {
                print("No packets in trace buffer")
                return
            }
            let blocks = packets.map { packet in
                (["Packet \(packet.id)", ""] + packet.lines).joined(separator: "\n")
            }
            print(blocks.joined(separator: "\n\n"))
        }
    }
}
