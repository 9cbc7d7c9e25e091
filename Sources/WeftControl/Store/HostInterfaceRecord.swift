import Foundation
import GRDB

/// Row of `host_interfaces`: an interface that already exists in weftd's
/// namespace (not a veth weftd made), bridged into a network by
/// `POST /v1/interfaces`. weftd never creates or deletes the link itself; it
/// only opens it in the dataplane, again after every restart.
public struct HostInterfaceRecord: Codable, Equatable, Sendable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "host_interfaces"
    public static let databaseColumnDecodingStrategy = DatabaseColumnDecodingStrategy.convertFromSnakeCase
    public static let databaseColumnEncodingStrategy = DatabaseColumnEncodingStrategy.convertToSnakeCase

    public var name: String            // kernel link name in weftd's namespace
    public var network: String
    public var createdAt: Date
    /// "af-packet" or "af-xdp" (PortDriver).
    public var driver: String

    public init(name: String, network: String, createdAt: Date, driver: String = PortDriver.afPacket.rawValue) {
        self.name = name; self.network = network; self.createdAt = createdAt; self.driver = driver
    }
}
