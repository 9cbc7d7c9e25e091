import ArgumentParser

@main
struct WeftBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "weft-bench",
        abstract: "Measures Weft's forwarding graph and datapaths.",
        subcommands: [GraphCommand.self, LPMCommand.self, LatencyCommand.self])
}
