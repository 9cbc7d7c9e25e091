import WeftEngine

/// pcap-output: the transmit side of replay interfaces, which only receive.
/// Frames the bridge sends them (floods, frames to MACs learned from the
/// replay) are dropped under `pcap-output/rx-only`.
public final class PcapOutputNode: GraphNode {
    public enum Error: String, NodeError {
        case rxOnly = "rx-only"
        public var help: String { "frames sent to a replay interface: it only receives" }
    }

    public static let registration = NodeRegistration(name: "pcap-output", next: NoNext.self, errors: Error.self)

    var errRxOnly = UInt32(0)

    public init() { super.init(registration: Self.registration) }

    public override func didResolve(_ graph: Graph) { errRxOnly = errorIndex(Error.rxOnly) }

    public override func process(_ graph: Graph, _ vector: UnsafeMutablePointer<UInt32>, _ count: Int) {
        for i in 0..<count { graph.drop(vector[i], error: errRxOnly) }
    }
}
