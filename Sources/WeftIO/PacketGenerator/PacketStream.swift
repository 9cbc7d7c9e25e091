import WeftEngine

/// A packet stream for pg-input. Packet `n` is template `n % templates.count`
/// with each increment field set to `base + (n % modulo)` (big-endian, 1-8
/// bytes), so one template can stand for many flows or MACs, and a list of
/// templates replays exact frames in order.
public final class PacketStream {
    public struct Increment: Sendable {
        public var offset: Int
        public var width: Int
        public var modulo: UInt64
        public init(offset: Int, width: Int, modulo: UInt64) {
            precondition(width >= 1 && width <= 8 && modulo > 0)
            self.offset = offset; self.width = width; self.modulo = modulo
        }
    }

    public let rxInterface: UInt32
    /// Set on every packet's metadata, as a driver would (e.g. `.l4ChecksumPending`
    /// for a frame the packet socket marks TP_STATUS_CSUMNOTREADY).
    public let flags: BufferFlags
    let templates: UnsafeMutableRawPointer
    let lengths: UnsafeMutablePointer<Int>
    let templateCount: Int
    let increments: UnsafeMutablePointer<Increment>
    let bases: UnsafeMutablePointer<UInt64>
    let incrementCount: Int
    /// Packets per poll (the vector size the stream produces).
    public let burst: Int
    /// Packets left to send; nil = endless.
    public internal(set) var remaining: Int?
    public internal(set) var sequence: UInt64 = 0

    /// Replays `frames` in order, each once (`count` nil) or cycling until `count` packets.
    public init(frames: [[UInt8]], rxInterface: UInt32, count: Int? = nil, burst: Int = Graph.vectorSize, increments: [Increment] = [],
                flags: BufferFlags = []) {
        precondition(!frames.isEmpty)
        precondition(burst >= 1 && burst <= Graph.vectorSize)
        self.rxInterface = rxInterface
        self.flags = flags
        templateCount = frames.count
        templates = .allocate(byteCount: frames.count * BufferPool.bufferSize, alignment: 64)
        lengths = .allocate(capacity: frames.count)
        for (i, f) in frames.enumerated() {
            precondition(!f.isEmpty && f.count <= BufferPool.maxDataLength, "pg: frame \(i) length \(f.count)")
            (templates + i * BufferPool.bufferSize).copyMemory(from: f, byteCount: f.count)
            lengths[i] = f.count
        }
        incrementCount = increments.count
        self.increments = .allocate(capacity: max(1, increments.count))
        bases = .allocate(capacity: max(1, increments.count))
        for (k, inc) in increments.enumerated() {
            precondition(frames.allSatisfy { inc.offset + inc.width <= $0.count })
            self.increments[k] = inc
            bases[k] = frames[0][inc.offset..<inc.offset + inc.width].reduce(UInt64(0)) { ($0 << 8) | UInt64($1) }
        }
        self.burst = burst
        remaining = count ?? frames.count
    }

    /// An endless (or `count`-long) stream of one template.
    public convenience init(template: [UInt8], rxInterface: UInt32, count: Int?, burst: Int = Graph.vectorSize, increments: [Increment] = []) {
        self.init(frames: [template], rxInterface: rxInterface, count: count, burst: burst, increments: increments)
        remaining = count
    }

    deinit {
        templates.deallocate(); lengths.deallocate(); increments.deallocate(); bases.deallocate()
    }

    /// Writes the stream's next packet into `dst`; returns its length.
    @inline(__always)
    func fill(_ dst: UnsafeMutableRawPointer) -> Int {
        let t = templateCount == 1 ? 0 : Int(sequence % UInt64(templateCount))
        let length = lengths[t]
        dst.copyMemory(from: templates + t &* BufferPool.bufferSize, byteCount: length)
        var k = 0
        while k < incrementCount {
            let inc = increments[k]
            var v = bases[k] &+ (sequence % inc.modulo)
            var j = inc.offset &+ inc.width &- 1
            while j >= inc.offset {
                dst.storeBytes(of: UInt8(truncatingIfNeeded: v), toByteOffset: j, as: UInt8.self)
                v &>>= 8
                j &-= 1
            }
            k &+= 1
        }
        sequence &+= 1
        return length
    }
}
