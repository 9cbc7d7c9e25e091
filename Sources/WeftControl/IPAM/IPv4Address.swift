import WeftPacket

// Dotted-quad IPv4 addresses as plain 32-bit integers, so IPAM can do
// arithmetic on them (next address, broadcast) without string juggling.

public struct IPv4Address: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// Host byte order: 10.1.0.2 is 0x0A01_0002.
    public var value: UInt32

    public init(_ value: UInt32) { self.value = value }

    /// Parses strict dotted-quad notation ("10.1.0.2") with WeftPacket's
    /// `IPv4.parse`, the project's one parser: four decimal octets, no
    /// leading zeros ("010.1.0.2" means octal to some tools).
    public init?(_ text: String) {
        guard let value = IPv4.parse(text) else { return nil }
        self.value = value
    }

    public var octets: [UInt8] {
        [UInt8(truncatingIfNeeded: value >> 24), UInt8(truncatingIfNeeded: value >> 16),
         UInt8(truncatingIfNeeded: value >> 8), UInt8(truncatingIfNeeded: value)]
    }

    public var description: String { IPv4.format(value) }

    public static func < (lhs: IPv4Address, rhs: IPv4Address) -> Bool { lhs.value < rhs.value }
}
