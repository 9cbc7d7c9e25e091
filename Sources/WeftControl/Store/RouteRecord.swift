import Foundation
import GRDB

/// Row of `routes`: a static route of FIB table `vrf` (`POST /v1/routes`).
/// Primary key (vrf, prefix).
public struct RouteRecord: Codable, Equatable, Sendable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "routes"
    public static let databaseColumnDecodingStrategy = DatabaseColumnDecodingStrategy.convertFromSnakeCase
    public static let databaseColumnEncodingStrategy = DatabaseColumnEncodingStrategy.convertToSnakeCase

    public var vrf: Int
    public var prefix: String          // canonical CIDR, "10.70.0.0/16"
    public var nextHop: String         // "10.61.0.5"
    public var createdAt: Date

    public init(prefix: String, nextHop: String, createdAt: Date, vrf: Int = 0) {
        self.vrf = vrf; self.prefix = prefix; self.nextHop = nextHop; self.createdAt = createdAt
    }
}
