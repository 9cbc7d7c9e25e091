// An IPv4 network in CIDR notation ("10.1.0.0/24"), as a network is
// configured through the API.

public struct IPv4Subnet: Hashable, Sendable, CustomStringConvertible {
    public let network: IPv4Address
    public let prefixLength: Int

    /// Prefix lengths a Weft network may use: a /8 is already 16M addresses,
    /// and a /31 or /32 leaves no room for a container after the reserved
    /// network, gateway and broadcast addresses.
    public static let allowedPrefixLengths = 8...30

    public enum ParseError: Error, Equatable, CustomStringConvertible {
        case notCIDR(String)
        case badAddress(String)
        case prefixOutOfRange(Int)
        case hostBitsSet(String, suggestion: String)

        public var description: String {
            switch self {
            case .notCIDR(let text):
                return "\"\(text)\" is not in CIDR notation; write it like 10.1.0.0/24"
            case .badAddress(let text):
                return "\"\(text)\" is not a valid IPv4 address"
            case .prefixOutOfRange(let length):
                return "prefix length /\(length) is not allowed; use /\(IPv4Subnet.allowedPrefixLengths.lowerBound) to /\(IPv4Subnet.allowedPrefixLengths.upperBound)"
            case .hostBitsSet(let text, let suggestion):
                return "\"\(text)\" has host bits set; did you mean \(suggestion)?"
            }
        }
    }

    public init(network: IPv4Address, prefixLength: Int) {
        self.network = network
        self.prefixLength = prefixLength
    }

    /// The "len" of "a.b.c.d/len": one or two decimal digits, nothing else
    /// (no sign, no spaces). Range checks are the caller's.
    static func prefixLength<S: StringProtocol>(_ text: S) -> Int? {
        guard !text.isEmpty, text.count <= 2, text.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        return Int(text)
    }

    /// Parses and validates "a.b.c.d/len": the prefix must be in
    /// `allowedPrefixLengths` and the host bits must be zero.
    public static func parse(_ text: String) throws -> IPv4Subnet {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let length = prefixLength(parts[1]) else { throw ParseError.notCIDR(text) }
        guard let address = IPv4Address(String(parts[0])) else { throw ParseError.badAddress(String(parts[0])) }
        guard allowedPrefixLengths.contains(length) else { throw ParseError.prefixOutOfRange(length) }
        let masked = IPv4Address(address.value & mask(length))
        guard masked == address else {
            throw ParseError.hostBitsSet(text, suggestion: "\(masked)/\(length)")
        }
        return IPv4Subnet(network: address, prefixLength: length)
    }

    static func mask(_ prefixLength: Int) -> UInt32 {
        prefixLength == 0 ? 0 : UInt32.max << UInt32(32 - prefixLength)
    }

    public var mask: UInt32 { Self.mask(prefixLength) }
    public var broadcast: IPv4Address { IPv4Address(network.value | ~mask) }

    /// The first host address (.1 in a /24), kept for a future gateway.
    public var reservedGateway: IPv4Address { IPv4Address(network.value &+ 1) }

    /// Addresses IPAM may hand to containers: all hosts except the gateway.
    public var assignableRange: ClosedRange<UInt32> { (network.value + 2)...(broadcast.value - 1) }

    public func contains(_ address: IPv4Address) -> Bool { address.value & mask == network.value }

    public var description: String { "\(network)/\(prefixLength)" }
}
