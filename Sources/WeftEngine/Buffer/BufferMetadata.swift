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

    /// Scratch owned by the node that writes it and the one it hands the
    /// buffer to (e.g. the ICMP error ip4-icmp-error is to send; IP4Metadata).
    public var scratch: UInt32

    // Large frames (docs/architecture.md, "Buffer chains and offload metadata").
    // A frame longer than one buffer is a chain: the first buffer holds the
    // headers and names the next one; each buffer's `length` counts its own
    // bytes. Free buffers always have `nextBuffer` invalid and the three
    // fields after it zero (WorkerBuffers.free restores that), so a
    // single-buffer frame never writes them.

    /// The chain's next buffer, `BufferPool.invalid` for the last (or only) one.
    public var nextBuffer: UInt32
    /// In a chain's first buffer: the bytes in all the buffers after it (VPP's
    /// total_length_not_including_first_buffer). 0 for a single buffer.
    public var chainLength: UInt32
    /// Payload bytes per segment when the frame is a GSO super-frame (the
    /// virtio-net header's gso_size); 0 = not GSO.
    public var gsoSize: UInt16
    /// `GSOType` raw value; meaningful only with `gsoSize` > 0.
    public var gsoType: UInt8
    /// Offset of the (innermost) L4 header from `dataOffset` for a GSO frame
    /// or a partial checksum (virtio-net csum_start); 0 = not known.
    public var l4Offset: UInt8

    @inlinable
    public init() {
        dataOffset = 0; length = 0; rxInterface = 0; txInterface = 0; l2Offset = 0; l3Offset = 0
        bridgeDomain = 0; fibIndex = 0; adjacency = 0; flowHash = 0; flags = []; error = 0; traceId = 0
        etherType = 0; vlan = 0
        scratch = 0; nextBuffer = BufferPool.invalid; chainLength = 0; gsoSize = 0; gsoType = 0; l4Offset = 0
    }

    /// Bytes of the whole frame: this buffer's and the chain's after it.
    @inlinable
    public var totalLength: Int { Int(length) &+ Int(chainLength) }

    @inlinable
    public var isChained: Bool { nextBuffer != BufferPool.invalid }

    /// The large-frame fields as a free buffer has them: no chain, no GSO.
    @inlinable
    public mutating func clearLargeFrameFields() {
        nextBuffer = BufferPool.invalid; chainLength = 0; gsoSize = 0; gsoType = 0; l4Offset = 0
    }
}

/// What a GSO super-frame is to be cut into: virtio-net's gso_type values
/// (VIRTIO_NET_HDR_GSO_*, without the ECN bit), so inputs store them as read.
public enum GSOType: UInt8, Sendable {
    case none = 0
    case tcp4 = 1
    case tcp6 = 4
    /// UDP segmentation (USO, VIRTIO_NET_HDR_GSO_UDP_L4): each segment a datagram.
    case udpL4 = 5
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
