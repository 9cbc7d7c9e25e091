import WeftEngine

/// Replay (pcap-input / pcap-output) and capture nodes of one graph, and the
/// control-side registry of what runs: replays by name and the capture
/// session. Operator tools: nothing here is persisted.
public final class PcapFeature {
    public let input = PcapInputNode()
    public let output = PcapOutputNode()

    /// A replay as the control side knows it.
    public struct ReplayEntry {
        public var name: String
        public var file: String
        public var network: String
        public var interfaceName: String
        public var swIfIndex: UInt32
        public var slot: Int32
        public var packets: Int
        public var count: Int
        public var rate: Int
        public init(name: String, file: String, network: String, interfaceName: String, swIfIndex: UInt32, slot: Int32,
                    packets: Int, count: Int, rate: Int) {
            self.name = name; self.file = file; self.network = network; self.interfaceName = interfaceName
            self.swIfIndex = swIfIndex; self.slot = slot; self.packets = packets; self.count = count; self.rate = rate
        }
    }

    /// Control thread only.
    public var replays: [String: ReplayEntry] = [:]
    /// The running or last capture. Control thread only.
    public var session: PcapCaptureSession?

    public init() {}

    public func register(in graph: Graph) {
        graph.register(input)
        graph.register(output)
    }

    /// The interface name of replay `name`.
    public static func interfaceName(_ name: String) -> String { "pcap-\(name)" }

    /// Locally administered MAC of the replay interface in slot `slot`.
    public static func mac(slot: Int32) -> [UInt8] { [0x02, 0xFE, 0xFC, 0x00, 0x00, UInt8(truncatingIfNeeded: slot)] }
}
