// Dotted-quad IPv4 addresses as plain 32-bit integers, so IPAM can do
// arithmetic on them (next address, broadcast) without string juggling.

public struct IPv4Address: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// Host byte order: 10.1.0.2 is 0x0A01_0002.
    public var value: UInt32

    public init(_ value: UInt32) { self.value = value }

    /// Parses strict dotted-quad notation ("10.1.0.2"). Rejects leading zeros
    /// ("010.1.0.2" means octal to some tools and decimal to others) and
    /// anything that is not exactly four decimal octets.
    public init?(_ text: String) {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var value: UInt32 = 0
        for part in parts {
            guard !part.isEmpty, part.count <= 3, part.allSatisfy({ $0.isASCII && $0.isNumber }),
                  !(part.count > 1 && part.first == "0"),
                  let octet = UInt32(part), octet <= 255
            else { return nil }
            value = value << 8 | octet
        }
        self.value = value
    }

    public var octets: [UInt8] {
        [UInt8(truncatingIfNeeded: value >> 24), UInt8(truncatingIfNeeded: value >> 16),
         UInt8(truncatingIfNeeded: value >> 8), UInt8(truncatingIfNeeded: value)]
    }

    public var description: String { octets.map(String.init).joined(separator: ".") }

    public static func < (lhs: IPv4Address, rhs: IPv4Address) -> Bool { lhs.value < rhs.value }
}
