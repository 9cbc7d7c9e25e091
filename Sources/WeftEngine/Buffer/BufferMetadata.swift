/// Per-buffer metadata: one 64-byte record per buffer, kept in an array parallel
/// to the buffer arena so that touching metadata never pulls packet bytes into
/// cache (and the other way round). Offsets are from the start of the buffer.
@frozen
public struct BufferMetadata {
    /// Offset of the first valid byte (starts at `BufferPool.headroom`).
    public var dataOffset: UInt16
    /// Number of valid bytes from `dataOffset`.
    public var length: UInt16
    public var rxInterface: UInt32
    public var txInterface: UInt32
    public var l2Offset: UInt16
    public var l3Offset: UInt16
    public var bridgeDomain: UInt32
    public var fibIndex: UInt32
    public var adjacency: UInt32
    public var flowHash: UInt32
    public var flags: BufferFlags
    /// Global error-counter index, set by the node that sent the buffer to error-drop.
    public var error: UInt32
    /// Packet-trace id when `flags` contains `.traced`.
    public var traceId: UInt32
    public var etherType: UInt16
    public var vlan: UInt16
    public var reserved0: UInt64
    public var reserved1: UInt32

    @inlinable
    public init() {
        dataOffset = 0; length = 0; rxInterface = 0; txInterface = 0; l2Offset = 0; l3Offset = 0
        bridgeDomain = 0; fibIndex = 0; adjacency = 0; flowHash = 0; flags = []; error = 0; traceId = 0
        etherType = 0; vlan = 0; reserved0 = 0; reserved1 = 0
    }
}

public struct BufferFlags: OptionSet, Sendable {
    public var rawValue: UInt32
    @inlinable public init(rawValue: UInt32) { self.rawValue = rawValue }
    /// Selected by `trace add`: every node records what it did to this packet.
    public static let traced = BufferFlags(rawValue: 1 << 0)
    /// The L4 checksum is only partial (veth CHECKSUM_PARTIAL); complete before transmit.
    public static let l4ChecksumPending = BufferFlags(rawValue: 1 << 1)
    /// Destination MAC is broadcast or multicast.
    public static let multicast = BufferFlags(rawValue: 1 << 2)
    public static let vlanTagged = BufferFlags(rawValue: 1 << 3)
}
