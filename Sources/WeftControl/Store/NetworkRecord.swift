import Foundation
import GRDB

/// Row of `networks`: one L2 network, backed by one bridge domain.
public struct NetworkRecord: Codable, Equatable, Sendable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "networks"
    public static let databaseColumnDecodingStrategy = DatabaseColumnDecodingStrategy.convertFromSnakeCase
    public static let databaseColumnEncodingStrategy = DatabaseColumnEncodingStrategy.convertToSnakeCase

    public var name: String
    public var bridgeDomain: Int
    public var subnet: String          // canonical CIDR, "10.1.0.0/24"
    public var mtu: Int
    public var macAgeSeconds: Int
    public var learnLimit: Int
    public var createdAt: Date
    public var vni: Int?               // set: the network spans nodes over VXLAN
    public var rangeStart: String?     // IPAM range of this node, nil: whole subnet
    public var rangeEnd: String?
    public var masquerade: Bool        // NAT44 behind the uplink's address
    public var vrf: Int                // FIB table of the gateway (0: default)

    public init(name: String, bridgeDomain: Int, subnet: String, mtu: Int, macAgeSeconds: Int, learnLimit: Int,
                createdAt: Date, vni: Int? = nil, rangeStart: String? = nil, rangeEnd: String? = nil, masquerade: Bool = false,
                vrf: Int = 0) {
        self.vrf = vrf
        self.name = name; self.bridgeDomain = bridgeDomain; self.subnet = subnet; self.mtu = mtu
        self.macAgeSeconds = macAgeSeconds; self.learnLimit = learnLimit; self.createdAt = createdAt
        self.vni = vni; self.rangeStart = rangeStart; self.rangeEnd = rangeEnd; self.masquerade = masquerade
    }
}

extension NetworkRecord {
    /// This node's IPAM range, when the network has one.
    public var ipamRange: ClosedRange<UInt32>? {
        guard let s = rangeStart.flatMap(IPv4Address.init), let e = rangeEnd.flatMap(IPv4Address.init), s.value <= e.value else { return nil }
        return s.value...e.value
    }
}
