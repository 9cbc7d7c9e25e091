/// One line of `show trace`: what one node did to one traced packet. Nodes
/// store raw words and format them later, off the forwarding path.
@frozen
public struct TraceRecord {
    public var packet: UInt32
    public var node: Int32
    public var a: UInt64
    public var b: UInt64
    public var c: UInt64
    public var d: UInt64
    @inlinable public init(packet: UInt32 = 0, node: Int32 = 0, a: UInt64 = 0, b: UInt64 = 0, c: UInt64 = 0, d: UInt64 = 0) {
        self.packet = packet; self.node = node; self.a = a; self.b = b; self.c = c; self.d = d
    }
}

/// Packet tracing (`trace add <input-node> N`). When no trace is armed,
/// `enabled` is false and nodes skip tracing with one predictable branch per
/// vector; the per-packet flag test happens only while a trace is running.
public final class PacketTrace {
    public static let maxNodes = 256
    public let capacity: Int
    @usableFromInline let records: UnsafeMutablePointer<TraceRecord>
    @usableFromInline var used = 0
    @usableFromInline var nextPacket: UInt32 = 0
    /// Packets still to be selected, per input node index.
    @usableFromInline let budget: UnsafeMutablePointer<Int32>
    /// True from `arm` until `clear`.
    public private(set) var enabled = false
    @usableFromInline var _droppedRecords: UInt64 = 0
    public var droppedRecords: UInt64 { _droppedRecords }

    public init(capacity: Int) {
        self.capacity = capacity
        records = .allocate(capacity: capacity)
        budget = .allocate(capacity: PacketTrace.maxNodes)
        budget.initialize(repeating: 0, count: PacketTrace.maxNodes)
    }

    deinit { records.deallocate(); budget.deallocate() }

    /// Selects the next `count` packets received by input node `node`.
    public func arm(node: Int32, count: Int) {
        budget[Int(node)] = Int32(clamping: count)
        enabled = true
    }

    public func clear() {
        budget.update(repeating: 0, count: PacketTrace.maxNodes)
        used = 0
        nextPacket = 0
        _droppedRecords = 0
        enabled = false
    }

    /// Input nodes: packets they may still select in this vector.
    @inlinable @inline(__always)
    public func remaining(_ node: Int32) -> Int32 { enabled ? budget[Int(node)] : 0 }

    /// Marks buffer metadata as traced and returns its packet id; consumes budget.
    @inlinable
    public func select(_ md: UnsafeMutablePointer<BufferMetadata>, node: Int32) -> UInt32 {
        budget[Int(node)] &-= 1
        md.pointee.flags.insert(.traced)
        md.pointee.traceId = nextPacket
        nextPacket &+= 1
        return md.pointee.traceId
    }

    @inlinable
    public func add(_ record: TraceRecord) {
        guard used < capacity else { _droppedRecords &+= 1; return }
        records[used] = record
        used &+= 1
    }

    /// Records in arrival order (control thread, under the worker barrier).
    public func snapshot() -> [TraceRecord] {
        Array(UnsafeBufferPointer(start: records, count: used))
    }
}

extension Graph {
    /// Writes a trace record for `bi` if it is being traced.
    @inlinable @inline(__always)
    public func traceIfSelected(_ bi: UInt32, node: Int32, a: UInt64 = 0, b: UInt64 = 0, c: UInt64 = 0, d: UInt64 = 0) {
        let md = metadata + Int(bi)
        if md.pointee.flags.contains(.traced) {
            trace.add(TraceRecord(packet: md.pointee.traceId, node: node, a: a, b: b, c: c, d: d))
        }
    }
}
