import GRDB

/// Row of `leases`: an address of a network's subnet held by an attachment.
/// Written in the same transaction as the attachment and deleted with it
/// (ON DELETE CASCADE), so an address is never leaked or handed out twice.
public struct LeaseRecord: Codable, Equatable, Sendable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "leases"
    public static let databaseColumnDecodingStrategy = DatabaseColumnDecodingStrategy.convertFromSnakeCase
    public static let databaseColumnEncodingStrategy = DatabaseColumnEncodingStrategy.convertToSnakeCase

    public var network: String
    public var address: String
    public var containerId: String
    public var ifName: String

    public init(network: String, address: String, containerId: String, ifName: String) {
        self.network = network; self.address = address; self.containerId = containerId; self.ifName = ifName
    }
}
