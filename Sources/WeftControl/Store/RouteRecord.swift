import Foundation
import GRDB

/// Row of `routes`: a static route of FIB table 0 (`POST /v1/routes`).
public struct RouteRecord: Codable, Equatable, Sendable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "routes"
    public static let databaseColumnDecodingStrategy = DatabaseColumnDecodingStrategy.convertFromSnakeCase
    public static let databaseColumnEncodingStrategy = DatabaseColumnEncodingStrategy.convertToSnakeCase

    public var prefix: String          // canonical CIDR, "10.70.0.0/16"
    public var nextHop: String         // "10.61.0.5"
    public var createdAt: Date

    public init(prefix: String, nextHop: String, createdAt: Date) {
        self.prefix = prefix; self.nextHop = nextHop; self.createdAt = createdAt
    }
}
