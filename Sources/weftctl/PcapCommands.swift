import ArgumentParser
import Foundation
import WeftControl

/// `capture start/stop/status`: pcap capture while forwarding (VPP's `pcap trace`).
struct CaptureCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "capture", abstract: "Capture packets into a pcap file without stopping forwarding.",
        subcommands: [CaptureStart.self, CaptureStop.self, CaptureStatusCommand.self])

    static func render(_ s: CaptureStatus) -> String {
        if s.state == "idle" { return "no capture" }
        var what = s.node ?? "?"
        if let i = s.interface { what = "\(i) \(s.direction ?? "rx") (node \(s.node ?? "?"))" }
        else if s.direction == "drop" { what = "drop (node \(s.node ?? "?"))" }
        var lines = ["capture \(s.state): \(what) -> \(s.file ?? "?")"]
        if let f = s.filter { lines.append("  filter: \(f)") }
        lines.append("  snaplen \(s.snaplen ?? 0), count \(s.count.map { $0 == 0 ? "unlimited" : String($0) } ?? "unlimited")")
        lines.append("  captured \(s.captured), written \(s.written), filtered out \(s.filteredOut), overrun \(s.overrun)")
        return lines.joined(separator: "\n")
    }
}

struct CaptureStart: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "start",
        abstract: "Capture packets entering an interface (rx, tx or drop) or a graph node into a pcap file.",
        discussion: """
            TARGET is an interface (see show interfaces; direction rx by default) or a graph node
            (every packet entering it, e.g. error-drop or l2-fwd). One capture runs at a time.
            """)
    @OptionGroup var options: GlobalOptions
    @Argument(help: "Interface or graph node.") var target: String
    @Argument(help: "rx, tx or drop (interfaces only).") var direction: String?
    @Option(name: [.customShort("w"), .long], help: "pcap file weftd writes (a relative path is made absolute here).") var file: String
    @Option(help: "Stop after N packets written (default: until capture stop).") var count: Int?
    @Option(help: "BPF filter (tcpdump syntax), applied before writing.") var filter: String?
    @Option(help: "Bytes kept per packet (default 65535).") var snaplen: Int?

    func run() throws {
        try reportingFailures {
            let path = file.hasPrefix("/") ? file : FileManager.default.currentDirectoryPath + "/" + file
            // The API takes interface or node: TARGET is an interface if weftd has one by that name.
            let (interfaces, _) = try options.api.get("/v1/interfaces", as: [InterfaceInfo].self)
            let isInterface = direction != nil || interfaces.contains { $0.name == target }
            let request = CreateCaptureRequest(interface: isInterface ? target : nil, node: isInterface ? nil : target,
                                               direction: isInterface ? (direction ?? "rx") : nil, file: path,
                                               count: count, filter: filter, snaplen: snaplen)
            let response = try options.api.call("POST", "/v1/captures", body: request)
            if options.json { return printJSON(response.body) }
            print(CaptureCommand.render(try options.api.decode(CaptureStatus.self, response)))
        }
    }
}

struct CaptureStop: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "stop", abstract: "Stop the capture and close its file.")
    @OptionGroup var options: GlobalOptions

    func run() throws {
        try reportingFailures {
            let response = try options.api.call("DELETE", "/v1/captures")
            if options.json { return printJSON(response.body) }
            print(CaptureCommand.render(try options.api.decode(CaptureStatus.self, response)))
        }
    }
}

struct CaptureStatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "status", abstract: "The running or last capture.")
    @OptionGroup var options: GlobalOptions

    func run() throws {
        try reportingFailures {
            let (status, raw) = try options.api.get("/v1/captures", as: CaptureStatus.self)
            if options.json { return printJSON(raw) }
            print(CaptureCommand.render(status))
        }
    }
}

/// `replay add/list/delete`: pcap files played into a network by pcap-input.
struct ReplayCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay", abstract: "Replay pcap files into a network (an rx-only interface in its bridge domain).",
        subcommands: [ReplayAdd.self, ReplayList.self, ReplayDelete.self])

    static func render(_ replays: [ReplayInfo]) -> String {
        var table = TextTable([.init("Name"), .init("Network"), .init("Interface"), .init("State"), .init("Packets", .right),
                               .init("Count", .right), .init("Rate", .right), .init("Sent", .right), .init("Loops", .right),
                               .init("File")])
        for r in replays {
            table.add([r.name, r.network, r.interface, r.state, String(r.packets), r.count == 0 ? "loop" : String(r.count),
                       r.rate == 0 ? "max" : String(r.rate), String(r.packetsSent), String(r.loopsDone), r.file])
        }
        return table.render()
    }
}

struct ReplayAdd: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "add", abstract: "Replay a pcap/pcapng file into a network.")
    @OptionGroup var options: GlobalOptions
    @Argument(help: "Replay name (its interface is pcap-NAME).") var name: String
    @Option(help: "pcap or pcapng file of Ethernet frames (a relative path is made absolute here).") var file: String
    @Option(help: "Network to replay into.") var network: String
    @Option(help: "Passes through the file (default 1; 0 = loop until deleted).") var count: Int?
    @Option(help: "Packets per second (default: full speed).") var rate: Int?

    func run() throws {
        try reportingFailures {
            let path = file.hasPrefix("/") ? file : FileManager.default.currentDirectoryPath + "/" + file
            let request = CreateReplayRequest(name: name, file: path, network: network, count: count, rate: rate)
            let response = try options.api.call("POST", "/v1/replays", body: request)
            if options.json { return printJSON(response.body) }
            print(ReplayCommand.render([try options.api.decode(ReplayInfo.self, response)]))
        }
    }
}

struct ReplayList: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List replays and their progress.")
    @OptionGroup var options: GlobalOptions

    func run() throws {
        try reportingFailures {
            let (replays, raw) = try options.api.get("/v1/replays", as: [ReplayInfo].self)
            if options.json { return printJSON(raw) }
            print(ReplayCommand.render(replays))
        }
    }
}

struct ReplayDelete: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "delete", abstract: "Stop a replay and remove its interface.",
                                                    aliases: ["del"])
    @OptionGroup var options: GlobalOptions
    @Argument(help: "Replay name.") var name: String

    func run() throws {
        try reportingFailures { _ = try options.api.call("DELETE", "/v1/replays/\(name.pathSegment)") }
    }
}
