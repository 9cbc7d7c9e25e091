import WeftPacket

/// An IPv4 prefix: network address (host byte order, host bits zero) and length.
public struct IPv4Prefix: Hashable, Sendable, CustomStringConvertible {
    public let address: UInt32
    public let length: Int

    /// Masks the host bits off `address`. Fails for a length outside 0...32.
    public init?(address: UInt32, length: Int) {
        guard (0...32).contains(length) else { return nil }
        self.address = address & IPv4Prefix.mask(length)
        self.length = length
    }

    init(uncheckedAddress address: UInt32, length: Int) {
        self.address = address
        self.length = length
    }

    /// Parses "a.b.c.d/len" (host bits may be set; they are masked off).
    public init?(_ text: Substring) {
        guard let slash = text.firstIndex(of: "/"),
              let a = IPv4Prefix.parseAddress(text[..<slash]),
              let l = Int(text[text.index(after: slash)...]) else { return nil }
        self.init(address: a, length: l)
    }

    public init?(_ text: String) { self.init(Substring(text)) }

    @inlinable public static func mask(_ length: Int) -> UInt32 {
        length <= 0 ? 0 : length >= 32 ? ~0 : ~UInt32(0) << UInt32(32 - length)
    }

    public func contains(_ a: UInt32) -> Bool { a & IPv4Prefix.mask(length) == address }

    /// "a.b.c.d" -> host-order UInt32 (the one parser: `IPv4.parse`).
    public static func parseAddress<S: StringProtocol>(_ s: S) -> UInt32? { IPv4.parse(s) }

    /// "a.b.c.d" of a host-order address (the one formatter: `IPv4.format`).
    @inlinable public static func format(_ a: UInt32) -> String { IPv4.format(a) }

    public var description: String { "\(IPv4Prefix.format(address))/\(length)" }
}

/// One prefix of a FIB table and the adjacency it resolves to.
public struct FIBRoute: Hashable, Sendable {
    public let prefix: IPv4Prefix
    public let adjacency: UInt32
    public init(prefix: IPv4Prefix, adjacency: UInt32) { self.prefix = prefix; self.adjacency = adjacency }
}
