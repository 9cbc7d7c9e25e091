import WeftEngine
import WeftPacket

/// Receive coalescing at transmit (VPP's virtio/tap packet coalescing): in
/// one vector, in-order TCP segments of a flow going to the same port that
/// takes super-frames (InterfaceTable.takesLargeFrames) are joined into one
/// GSO TCPv4 frame, so a pod behind a VXLAN tunnel or the uplink, whose
/// sender's segments arrive MTU-sized, gets 64 KB frames as it would from
/// its own kernel's GRO, and one sendmsg replaces dozens.
///
/// No copy: the run's first buffer keeps the headers (TCPCoalescing rewrites
/// them for the whole run) and every later segment's buffer is linked behind
/// it as a chain with its headers skipped. A segment whose complete checksum
/// is wrong is never merged (the receiver's kernel drops and counts it);
/// one whose checksum is still partial came from a pod on this node and is
/// merged as is. Runs end at a PSH, at a short segment, at `maxSegments`
/// and at 64 KB; nothing waits for the next vector, so no latency is added.
///
/// Uses: txInterface, dataOffset, length, flags(.l4ChecksumPending, .traced),
/// nextBuffer, gsoSize. Sets on a run's head: chainLength, nextBuffer,
/// gsoSize, gsoType (tcp4), l4Offset, flags(+.l4ChecksumPending); on later
/// segments dataOffset and length (the payload only).
public final class GROCoalescer {
    /// Segments one run may join: one iovec each at transmit (ChainIO.maxPieces).
    public static let maxSegments = BufferChain.maxBuffers
    /// Runs open at once (flows interleaved in one vector).
    static let maxOpen = 8
    /// Frames shorter than this are passed over unread.
    static let minLength: UInt16 = 512

    struct Run {
        var head: UInt32
        var tail: UInt32
        var segment: TCPCoalescing.Segment
        var expected: UInt32
        var payload: Int
        var segments: Int
        var window: UInt16
        var headChecked: Bool
    }

    let runs: UnsafeMutablePointer<Run>
    var open = 0
    /// Segments merged into a run's head since the owner last read it.
    public private(set) var merged: UInt64 = 0

    public init() {
        runs = .allocate(capacity: Self.maxOpen)
        let empty = Run(head: 0, tail: 0, segment: TCPCoalescing.Segment(headerLength: 0, payload: 0, sequence: 0, push: false),
                        expected: 0, payload: 0, segments: 0, window: 0, headChecked: false)
        runs.initialize(repeating: empty, count: Self.maxOpen)
    }

    deinit { runs.deallocate() }

    /// Takes and resets the merged-segment count.
    public func takeMerged() -> UInt64 { defer { merged = 0 }; return merged }

    /// Coalesces `vector` in place and returns its new length: merged
    /// segments leave the vector (they are part of their run's head).
    public func coalesce(_ graph: Graph, _ vector: UnsafeMutablePointer<UInt32>, _ count: Int) -> Int {
        let md = graph.metadata
        let takesLarge = graph.interfaces.takesLargeFrames
        var out = 0
        open = 0
        for i in 0..<count {
            let bi = vector[i]
            let m = md + Int(bi)
            vector[out] = bi
            // Short frames (a 64-byte stream, pure ACKs) are never worth a run: one compare, no packet bytes read.
            guard m.pointee.length >= Self.minLength, takesLarge[Int(m.pointee.txInterface)] != 0,
                  !m.pointee.isChained, m.pointee.gsoSize == 0,
                  !m.pointee.flags.contains(.traced) else { out &+= 1; continue }
            let frame = graph.data(bi) + Int(m.pointee.dataOffset)
            guard let s = TCPCoalescing.parse(frame, length: Int(m.pointee.length)) else { out &+= 1; continue }
            if join(graph, bi, m, frame, s) { continue }
            out &+= 1
        }
        for r in 0..<open { finish(graph, r) }
        open = 0
        return out
    }

    /// Adds the segment to its flow's open run, or opens one with it; true
    /// when it joined (it is then no longer a frame of its own).
    private func join(_ graph: Graph, _ bi: UInt32, _ m: UnsafeMutablePointer<BufferMetadata>,
                      _ frame: UnsafeMutableRawPointer, _ s: TCPCoalescing.Segment) -> Bool {
        let md = graph.metadata
        let pending = m.pointee.flags.contains(.l4ChecksumPending)
        var r = 0
        while r < open {
            let h = md + Int(runs[r].head)
            if h.pointee.txInterface == m.pointee.txInterface && sameFlow(graph.data(runs[r].head) + Int(h.pointee.dataOffset), frame) { break }
            r &+= 1
        }
        if r < open {
            let run = runs[r]
            let head = md + Int(run.head)
            let headFrame = graph.data(run.head) + Int(head.pointee.dataOffset)
            if s.payload <= run.segment.payload, run.segments < Self.maxSegments,
               run.payload &+ s.payload <= TCPCoalescing.maxPayload(run.segment),
               TCPCoalescing.continues(headFrame, run.segment, expected: run.expected, frame, s),
               pending || TCPCoalescing.checksumValid(frame, s),
               run.headChecked || head.pointee.flags.contains(.l4ChecksumPending) || TCPCoalescing.checksumValid(headFrame, run.segment) {
                // Link the payload behind the run's tail.
                m.pointee.dataOffset &+= UInt16(s.headerLength)
                m.pointee.length = UInt16(s.payload)
                md[Int(run.tail)].nextBuffer = bi
                head.pointee.chainLength &+= UInt32(s.payload)
                runs[r].headChecked = true
                runs[r].tail = bi
                runs[r].expected = run.expected &+ UInt32(s.payload)
                runs[r].payload &+= s.payload
                runs[r].segments &+= 1
                runs[r].window = TCPCoalescing.window(frame)
                merged &+= 1
                if s.push || s.payload < run.segment.payload { close(graph, r, push: s.push) }
                return true
            }
            close(graph, r, push: false)
        }
        // A new run headed by this segment (one that cannot be followed ends here).
        guard !s.push, open < Self.maxOpen else { return false }
        runs[open] = Run(head: bi, tail: bi, segment: s, expected: s.sequence &+ UInt32(s.payload), payload: s.payload,
                         segments: 1, window: TCPCoalescing.window(frame), headChecked: pending)
        open &+= 1
        return false
    }

    /// Same addresses and ports (the rest is TCPCoalescing.continues's to check).
    @inline(__always)
    private func sameFlow(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer) -> Bool {
        let ia = a + TCPCoalescing.Segment.l3Offset + IPv4.offsetSource, ib = b + TCPCoalescing.Segment.l3Offset + IPv4.offsetSource
        return ia.loadUnaligned(as: UInt64.self) == ib.loadUnaligned(as: UInt64.self)
            && (ia + 8).loadUnaligned(as: UInt32.self) == (ib + 8).loadUnaligned(as: UInt32.self)
    }

    /// Finishes run `r` and removes it from the open ones.
    private func close(_ graph: Graph, _ r: Int, push: Bool) {
        finish(graph, r, push: push)
        open &-= 1
        if r != open { runs[r] = runs[open] }
    }

    /// Turns a run of two or more segments into its head's GSO frame.
    private func finish(_ graph: Graph, _ r: Int, push: Bool = false) {
        let run = runs[r]
        guard run.segments > 1 else { return }
        let head = graph.metadata + Int(run.head)
        TCPCoalescing.finish(graph.data(run.head) + Int(head.pointee.dataOffset), run.segment, payload: run.payload,
                             push: push, window: run.window)
        head.pointee.gsoSize = UInt16(run.segment.payload)
        head.pointee.gsoType = GSOType.tcp4.rawValue
        head.pointee.l4Offset = UInt8(TCPCoalescing.Segment.l4Offset)
        head.pointee.flags.insert(.l4ChecksumPending)
    }
}
