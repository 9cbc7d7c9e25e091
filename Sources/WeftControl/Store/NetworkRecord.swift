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

    public init(name: String, bridgeDomain: Int, subnet: String, mtu: Int, macAgeSeconds: Int, learnLimit: Int,
                createdAt: Date) {
        self.name = name; self.bridgeDomain = bridgeDomain; self.subnet = subnet; self.mtu = mtu
        self.macAgeSeconds = macAgeSeconds; self.learnLimit = learnLimit; self.createdAt = createdAt
    }
}
