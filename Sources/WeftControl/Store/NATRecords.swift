import Foundation
import GRDB

/// Row of `nat_mappings`: a static port mapping (DNAT) of the uplink's address.
public struct NATMappingRecord: Codable, Equatable, Sendable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "nat_mappings"
    public static let databaseColumnDecodingStrategy = DatabaseColumnDecodingStrategy.convertFromSnakeCase
    public static let databaseColumnEncodingStrategy = DatabaseColumnEncodingStrategy.convertToSnakeCase

    public var `protocol`: String      // "tcp" | "udp"
    public var externalPort: Int
    public var internalAddress: String
    public var internalPort: Int
    public var containerId: String?
    public var createdAt: Date

    public init(protocol: String, externalPort: Int, internalAddress: String, internalPort: Int, containerId: String?,
                createdAt: Date = Date()) {
        self.protocol = `protocol`; self.externalPort = externalPort; self.internalAddress = internalAddress
        self.internalPort = internalPort; self.containerId = containerId; self.createdAt = createdAt
    }
}

/// The one row of `nat_config`: timeouts (seconds) and excluded destinations.
public struct NATConfigRecord: Codable, Equatable, Sendable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "nat_config"
    public static let databaseColumnDecodingStrategy = DatabaseColumnDecodingStrategy.convertFromSnakeCase
    public static let databaseColumnEncodingStrategy = DatabaseColumnEncodingStrategy.convertToSnakeCase

    public var id: Int = 1
    public var udpTimeout: Int
    public var tcpEstablishedTimeout: Int
    public var tcpTransitoryTimeout: Int
    public var icmpTimeout: Int
    public var exclude: String          // comma-separated canonical CIDRs

    public init(udpTimeout: Int, tcpEstablishedTimeout: Int, tcpTransitoryTimeout: Int, icmpTimeout: Int, exclude: [String]) {
        self.udpTimeout = udpTimeout; self.tcpEstablishedTimeout = tcpEstablishedTimeout
        self.tcpTransitoryTimeout = tcpTransitoryTimeout; self.icmpTimeout = icmpTimeout
        self.exclude = exclude.joined(separator: ",")
    }

    public var excludeList: [String] { exclude.split(separator: ",").map(String.init) }
}

extension StateStore {
    public func natMappings() throws -> [NATMappingRecord] {
        try database.read { db in try NATMappingRecord.order(Column("protocol"), Column("external_port")).fetchAll(db) }
    }

    /// Inserts a mapping; 409 when the protocol/port is taken.
    public func createNATMapping(_ record: NATMappingRecord) throws {
        try database.write { db in
            if let taken = try NATMappingRecord.fetchOne(db, key: ["protocol": record.protocol, "external_port": record.externalPort]) {
                let owner = taken.containerId.map { " (container \($0))" } ?? ""
                throw ControlError(.conflict, code: "mapping_exists",
                                   message: "\(record.protocol) port \(record.externalPort) is already mapped to \(taken.internalAddress):\(taken.internalPort)\(owner)",
                                   field: "externalPort")
            }
            try record.insert(db)
        }
    }

    @discardableResult
    public func deleteNATMapping(protocol: String, externalPort: Int) throws -> Bool {
        try database.write { db in try NATMappingRecord.deleteOne(db, key: ["protocol": `protocol`, "external_port": externalPort]) }
    }

    public func natConfig() throws -> NATConfigRecord? {
        try database.read { db in try NATConfigRecord.fetchOne(db, key: 1) }
    }

    public func setNATConfig(_ record: NATConfigRecord) throws {
        try database.write { db in try record.save(db) }
    }
}
