import Foundation
import GRDB

/// The one row of `uplink`: an interface of weftd's namespace used as a
/// routed port with an address and, optionally, a default route.
public struct UplinkRecord: Codable, Equatable, Sendable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "uplink"
    public static let databaseColumnDecodingStrategy = DatabaseColumnDecodingStrategy.convertFromSnakeCase
    public static let databaseColumnEncodingStrategy = DatabaseColumnEncodingStrategy.convertToSnakeCase

    public var name: String
    public var address: String         // "192.0.2.2/24"
    public var gateway: String?        // "192.0.2.1"
    public var createdAt: Date

    public init(name: String, address: String, gateway: String?, createdAt: Date) {
        self.name = name; self.address = address; self.gateway = gateway; self.createdAt = createdAt
    }
}

extension StateStore {
    public func uplink() throws -> UplinkRecord? {
        try database.read { db in try UplinkRecord.fetchOne(db) }
    }

    /// Replaces the uplink (there is at most one).
    public func setUplink(_ record: UplinkRecord) throws {
        try database.write { db in
            _ = try UplinkRecord.deleteAll(db)
            try record.insert(db)
        }
    }

    /// Returns false if there was none.
    @discardableResult
    public func deleteUplink() throws -> Bool {
        try database.write { db in try UplinkRecord.deleteAll(db) > 0 }
    }
}
