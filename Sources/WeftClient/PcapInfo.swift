/// Body of POST /v1/captures: copy the packets entering a point of the
/// graph into a pcap file while forwarding goes on. Give `interface` (with
/// `direction` rx, tx or drop; default rx) or `node` (every packet entering
/// that graph node), or only `direction` "drop" for every dropped packet.
public struct CreateCaptureRequest: Codable, Sendable, Equatable {
    public var interface: String?
    public var node: String?
    public var direction: String?
    /// Absolute path of the pcap file weftd writes (created or overwritten).
    public var file: String
    /// Stop after this many packets written (default 0: until stopped).
    public var count: Int?
    /// BPF expression (tcpdump syntax); only matching packets are written.
    public var filter: String?
    /// Bytes kept per packet (default 65535).
    public var snaplen: Int?
    public init(interface: String? = nil, node: String? = nil, direction: String? = nil, file: String, count: Int? = nil,
                filter: String? = nil, snaplen: Int? = nil) {
        self.interface = interface; self.node = node; self.direction = direction; self.file = file
        self.count = count; self.filter = filter; self.snaplen = snaplen
    }
}

/// GET/DELETE /v1/captures: the running or last capture.
public struct CaptureStatus: Codable, Sendable, Equatable {
    /// "idle" (none yet), "running", "done" (count reached), "stopped".
    public var state: String
    public var interface: String?
    public var direction: String?
    /// The graph node whose incoming packets are captured.
    public var node: String?
    public var file: String?
    public var filter: String?
    public var snaplen: Int?
    public var count: Int?
    /// Copied by the worker into the capture ring.
    public var captured: UInt64
    /// Written to the file.
    public var written: UInt64
    /// Rejected by the BPF filter.
    public var filteredOut: UInt64
    /// Not copied: the ring was full (the file is missing them).
    public var overrun: UInt64
    public init(state: String, interface: String? = nil, direction: String? = nil, node: String? = nil, file: String? = nil,
                filter: String? = nil, snaplen: Int? = nil, count: Int? = nil, captured: UInt64 = 0, written: UInt64 = 0,
                filteredOut: UInt64 = 0, overrun: UInt64 = 0) {
        self.state = state; self.interface = interface; self.direction = direction; self.node = node; self.file = file
        self.filter = filter; self.snaplen = snaplen; self.count = count; self.captured = captured; self.written = written
        self.filteredOut = filteredOut; self.overrun = overrun
    }
}

/// Body of POST /v1/replays: replay a capture file into a network's bridge
/// domain, as frames received on a replay interface.
public struct CreateReplayRequest: Codable, Sendable, Equatable {
    public var name: String
    /// Absolute path of a pcap or pcapng file with Ethernet frames.
    public var file: String
    public var network: String
    /// Passes through the file (default 1; 0 = loop until deleted).
    public var count: Int?
    /// Packets per second (default 0 = as fast as the worker goes).
    public var rate: Int?
    public init(name: String, file: String, network: String, count: Int? = nil, rate: Int? = nil) {
        self.name = name; self.file = file; self.network = network; self.count = count; self.rate = rate
    }
}

/// A replay as GET /v1/replays returns it.
public struct ReplayInfo: Codable, Sendable, Equatable {
    public var name: String
    public var file: String
    public var network: String
    /// The replay interface ("pcap-<name>").
    public var interface: String
    /// "playing" or "done".
    public var state: String
    /// Packets in the file.
    public var packets: Int
    public var count: Int
    public var rate: Int
    public var packetsSent: UInt64
    public var loopsDone: UInt64
    public init(name: String, file: String, network: String, interface: String, state: String, packets: Int, count: Int,
                rate: Int, packetsSent: UInt64, loopsDone: UInt64) {
        self.name = name; self.file = file; self.network = network; self.interface = interface; self.state = state
        self.packets = packets; self.count = count; self.rate = rate; self.packetsSent = packetsSent; self.loopsDone = loopsDone
    }
}
