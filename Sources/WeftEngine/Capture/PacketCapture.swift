import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Packet capture without stopping forwarding (VPP's `pcap trace rx tx drop`).
///
/// The worker (single producer) copies packets entering one node into a
/// preallocated ring of fixed slots; the control side (single consumer)
/// drains the ring into a pcap file. The ring is allocated when a capture
/// starts, never on the per-packet path; when it is full the packet is not
/// copied and counted as `overrun`: the worker never waits for the file.
///
/// Hooked in `Graph.dispatchPending`: one comparison per vector when off.
public final class PacketCapture: @unchecked Sendable {
    /// Which packets entering the captured node are copied.
    public enum Match: Sendable, Equatable {
        /// Every packet (a node capture, or all drops).
        case all
        /// Packets whose `rxInterface` is the interface (rx, or drops of one interface).
        case rxInterface(UInt32)
        /// Packets whose `txInterface` is the interface (tx).
        case txInterface(UInt32)
    }

    /// Per-slot record: when and how much was copied.
    @frozen
    public struct Slot {
        public var seconds: Int64
        public var microseconds: Int32
        /// Bytes copied into the slot (min(frame length, snaplen)).
        public var capturedLength: UInt32
        /// Length of the frame on the wire.
        public var wireLength: UInt32
    }

    public static let defaultSlots = 4096
    /// A buffer holds at most 1920 bytes of frame, so a slot always holds a whole one.
    public static let slotBytes = 2048

    public let slotCount: Int
    let mask: Int
    let data: UnsafeMutableRawPointer
    let slots: UnsafeMutablePointer<Slot>
    public let match: Match
    public let snaplen: Int
    /// Stop copying after this many packets (0 = no limit). Set when nothing
    /// filters on the consumer side, so the producer's count is the file's.
    public let limit: UInt64

    /// Next slot the producer writes / the consumer reads (monotonic counters).
    let head = Atomic<Int>(0)
    let tail = Atomic<Int>(0)
    private let capturedCount = Atomic<UInt64>(0)
    private let overrunCount = Atomic<UInt64>(0)
    private let stopped = Atomic<Bool>(false)

    /// `slots` is rounded up to a power of two.
    public init(match: Match, snaplen: Int, limit: UInt64 = 0, slots: Int = PacketCapture.defaultSlots) {
        var n = 1
        while n < max(2, slots) { n <<= 1 }
        slotCount = n
        mask = n - 1
        data = .allocate(byteCount: n * Self.slotBytes, alignment: 64)
        self.slots = .allocate(capacity: n)
        self.match = match
        self.snaplen = min(max(1, snaplen), Self.slotBytes)
        self.limit = limit
    }

    deinit {
        data.deallocate()
        slots.deallocate()
    }

    /// Packets copied into the ring.
    public var captured: UInt64 { capturedCount.load(ordering: .relaxed) }
    /// Packets not copied because the ring was full.
    public var overrun: UInt64 { overrunCount.load(ordering: .relaxed) }
    public var isStopped: Bool { stopped.load(ordering: .acquiring) }

    /// Any thread: the producer copies nothing more.
    public func stop() { stopped.store(true, ordering: .releasing) }

    // MARK: producer (worker thread)

    /// Copies the matching packets of one vector entering the captured node.
    /// One clock read per vector; no allocation, no lock, no waiting.
    @inline(never)
    public func record(_ graph: Graph, _ vector: UnsafeMutablePointer<UInt32>, _ count: Int) {
        if stopped.load(ordering: .relaxed) { return }
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        let seconds = Int64(ts.tv_sec), micros = Int32(ts.tv_nsec / 1000)
        let md = graph.metadata
        var h = head.load(ordering: .relaxed)
        let t = tail.load(ordering: .acquiring)
        var copied: UInt64 = 0, lost: UInt64 = 0
        let already = capturedCount.load(ordering: .relaxed)
        for i in 0..<count {
            let bi = vector[i]
            let m = md + Int(bi)
            switch match {
            case .all: break
            case .rxInterface(let x): if m.pointee.rxInterface != x { continue }
            case .txInterface(let x): if m.pointee.txInterface != x { continue }
            }
            if limit != 0 && already &+ copied >= limit { stopped.store(true, ordering: .relaxed); break }
            if h &- t >= slotCount { lost &+= 1; continue }
            // A chain (a GSO super-frame) is what it is on the wire: its whole length, its
            // bytes up to the snaplen gathered from the buffers after the first.
            let wire = m.pointee.totalLength
            let cap = min(wire, snaplen, Self.slotBytes)
            let s = h & mask
            let first = min(cap, Int(m.pointee.length))
            (data + s &* Self.slotBytes).copyMemory(from: graph.current(bi), byteCount: first)
            if _slowPath(cap > first) { gatherTail(graph, m.pointee.nextBuffer, into: data + s &* Self.slotBytes + first, cap &- first) }
            slots[s] = Slot(seconds: seconds, microseconds: micros, capturedLength: UInt32(cap), wireLength: UInt32(wire))
            h &+= 1
            copied &+= 1
        }
        if copied > 0 {
            head.store(h, ordering: .releasing)
            capturedCount.add(copied, ordering: .relaxed)
        }
        if lost > 0 { overrunCount.add(lost, ordering: .relaxed) }
    }

    private func gatherTail(_ graph: Graph, _ start: UInt32, into dst: UnsafeMutableRawPointer, _ bytes: Int) {
        var bi = start, done = 0
        while bi != BufferPool.invalid && done < bytes {
            let m = graph.metadata[Int(bi)]
            let k = min(Int(m.length), bytes &- done)
            (dst + done).copyMemory(from: graph.data(bi) + Int(m.dataOffset), byteCount: k)
            done &+= k
            bi = m.nextBuffer
        }
    }

    // MARK: consumer (one control-side thread)

    /// Hands every slot written so far to `body` (bytes, captured length,
    /// wire length, seconds, microseconds), then frees them. Returns how many.
    @discardableResult
    public func drain(_ body: (UnsafeRawPointer, Int, Int, Int64, Int32) -> Void) -> Int {
        let t = tail.load(ordering: .relaxed)
        let h = head.load(ordering: .acquiring)
        var i = t
        while i != h {
            let s = i & mask
            let slot = slots[s]
            body(UnsafeRawPointer(data + s * Self.slotBytes), Int(slot.capturedLength), Int(slot.wireLength),
                 slot.seconds, slot.microseconds)
            i &+= 1
        }
        tail.store(h, ordering: .releasing)
        return h &- t
    }
}
