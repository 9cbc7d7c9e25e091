import CShims
import WeftEngine

/// pcap-input: replays capture files as input interfaces. Each replay is
/// one interface (driver "pcap") whose frames, loaded whole into memory
/// (`PcapFile`), are copied into pool buffers and handed to ethernet-input
/// as if received on it: `count` times through the file (0 = until
/// deleted), at full speed or at `rate` packets per second, paced with
/// rdtsc (the worker never sleeps for a replay; an idle worker wakes from
/// its poll(2) at least every 10 ms and sends what is due).
///
/// A finished replay leaves the active list: it costs nothing per poll.
/// Sets: dataOffset, length, rxInterface, flags (cleared), traced selection.
public final class PcapInputNode: GraphNode {
    public enum Next: String, NodeNext {
        case ethernetInput = "ethernet-input"
    }

    public enum Error: String, NodeError {
        case noBuffers = "no-buffers"
        public var help: String { "frames not replayed: buffer pool empty" }
    }

    public static let registration = NodeRegistration(name: "pcap-input", kind: .input, next: Next.self, errors: Error.self)
    public static let maxReplays = 64

    /// One replay, as the worker plays it (flat data, no references).
    public struct Replay {
        public var swIfIndex: UInt32 = 0
        var bytes: UnsafeRawPointer?
        var offsets: UnsafePointer<Int>?
        var lengths: UnsafePointer<UInt16>?
        var packetCount = 0
        var next = 0
        /// Passes through the file wanted (0 = loop until deleted) and done.
        public var loopsWanted: UInt64 = 0
        public var loopsDone: UInt64 = 0
        public var sent: UInt64 = 0
        /// rdtsc clocks between packets; 0 = full speed.
        var clocksPerPacket: UInt64 = 0
        /// rdtsc time the next packet is due.
        var due: UInt64 = 0
        public var finished = false
    }

    let replays: UnsafeMutablePointer<Replay>
    let active: UnsafeMutablePointer<Int32>
    var activeCount = 0
    /// Control side: the files behind each slot, kept alive while the slot is used.
    private var files: [PcapFile?]
    var toEthernet = Int32(0)
    var errNoBuffers = UInt32(0)
    let tscHz: UInt64

    public init() {
        replays = .allocate(capacity: Self.maxReplays)
        replays.initialize(repeating: Replay(), count: Self.maxReplays)
        active = .allocate(capacity: Self.maxReplays)
        files = Array(repeating: nil, count: Self.maxReplays)
        tscHz = weft_tsc_hz()
        super.init(registration: Self.registration)
    }

    deinit { replays.deallocate(); active.deallocate() }

    public override func didResolve(_ graph: Graph) {
        toEthernet = nextIndex(Next.ethernetInput)
        errNoBuffers = errorIndex(Error.noBuffers)
    }

    // MARK: control side (under the barrier, or with no worker running)

    /// A free slot, or nil when `maxReplays` replays exist.
    public func freeSlot() -> Int32? {
        files.firstIndex(where: { $0 == nil }).map { Int32($0) }
    }

    /// Starts replaying `file` on interface `swIfIndex` from slot `slot`.
    public func start(slot: Int32, file: PcapFile, swIfIndex: UInt32, count: Int, rate: Int) {
        let s = Int(slot)
        precondition(files[s] == nil, "pcap-input: slot \(slot) in use")
        files[s] = file
        var r = Replay()
        r.swIfIndex = swIfIndex
        r.bytes = UnsafeRawPointer(file.bytes)
        r.offsets = UnsafePointer(file.offsets)
        r.lengths = UnsafePointer(file.lengths)
        r.packetCount = file.packetCount
        r.loopsWanted = UInt64(max(0, count))
        r.clocksPerPacket = rate > 0 ? max(1, tscHz / UInt64(rate)) : 0
        r.due = weft_rdtsc()
        replays[s] = r
        active[activeCount] = slot
        activeCount += 1
    }

    /// Stops slot `slot` and returns its file (release it after the barrier).
    @discardableResult
    public func stop(slot: Int32) -> PcapFile? {
        let s = Int(slot)
        for k in 0..<activeCount where active[k] == slot {
            active[k] = active[activeCount - 1]
            activeCount -= 1
            break
        }
        replays[s] = Replay()
        let file = files[s]
        files[s] = nil
        return file
    }

    /// Snapshot of slot `slot`'s progress.
    public func state(slot: Int32) -> Replay { replays[Int(slot)] }

    /// Replays still sending (tests: run until 0).
    public var activeReplays: Int { activeCount }

    // MARK: worker

    public override func poll(_ graph: Graph) -> Int {
        if activeCount == 0 { return 0 }
        let now = weft_rdtsc()
        var total = 0
        var k = 0
        while k < activeCount {
            let r = replays + Int(active[k])
            total &+= play(graph, r, now)
            if r.pointee.finished {
                active[k] = active[activeCount - 1]
                activeCount -= 1
            } else {
                k += 1
            }
        }
        return total
    }

    @inline(__always)
    private func play(_ graph: Graph, _ r: UnsafeMutablePointer<Replay>, _ now: UInt64) -> Int {
        var budget = Graph.vectorSize
        let cpp = r.pointee.clocksPerPacket
        if cpp != 0 {
            if now < r.pointee.due { return 0 }
            let owed = (now &- r.pointee.due) / cpp &+ 1
            if owed < UInt64(budget) { budget = Int(owed) }
            r.pointee.due &+= UInt64(budget) &* cpp
            // After a stall (barrier, busy worker) send at most one vector of
            // backlog rather than a burst of everything missed.
            let slack = cpp &* UInt64(Graph.vectorSize)
            if now > slack && r.pointee.due < now &- slack { r.pointee.due = now }
        }
        let md = graph.metadata
        let rx = r.pointee.swIfIndex
        let bytes = r.pointee.bytes.unsafelyUnwrapped
        let offsets = r.pointee.offsets.unsafelyUnwrapped
        let lengths = r.pointee.lengths.unsafelyUnwrapped
        let count = r.pointee.packetCount
        var next = r.pointee.next
        var traceBudget = graph.trace.remaining(index)
        var made = 0
        var byteTotal = 0
        var out = NextCursor(to: toEthernet)
        while made < budget {
            let bi = graph.buffers.alloc()
            if _slowPath(bi == BufferPool.invalid) { graph.count(errNoBuffers); break }
            let length = Int(lengths[next])
            (graph.data(bi) + BufferPool.headroom).copyMemory(from: bytes + offsets[next], byteCount: length)
            let m = md + Int(bi)
            m.pointee.dataOffset = UInt16(BufferPool.headroom)
            m.pointee.length = UInt16(truncatingIfNeeded: length)
            m.pointee.rxInterface = rx
            m.pointee.flags = []
            byteTotal &+= length
            if _slowPath(traceBudget > 0) {
                let id = graph.trace.select(m, node: index)
                graph.trace.add(TraceRecord(packet: id, node: index, a: UInt64(rx), b: UInt64(length)))
                traceBudget -= 1
            }
            graph.put(bi, &out)
            made &+= 1
            next &+= 1
            if next == count {
                next = 0
                r.pointee.loopsDone &+= 1
                if r.pointee.loopsWanted != 0 && r.pointee.loopsDone >= r.pointee.loopsWanted {
                    r.pointee.finished = true
                    break
                }
            }
        }
        graph.close(&out)
        r.pointee.next = next
        r.pointee.sent &+= UInt64(made)
        graph.interfaces.rxPackets[Int(rx)] &+= UInt64(made)
        graph.interfaces.rxBytes[Int(rx)] &+= UInt64(byteTotal)
        graph.countBytes(index, Int(byteTotal))
        return made
    }

    public override func formatTrace(_ r: TraceRecord) -> String {
        "pcap-input: replay on sw_if_index \(r.a), \(r.b) bytes"
    }
}
