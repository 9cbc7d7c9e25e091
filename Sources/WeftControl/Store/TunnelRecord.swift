import Foundation
import GRDB

/// Row of `tunnels`: a VXLAN tunnel of a network to one remote VTEP
/// (`POST /v1/tunnels`). Its interface is `vxlan_tunnel<id>`.
public struct TunnelRecord: Codable, Equatable, Sendable, FetchableRecord, MutablePersistableRecord {
    public static let databaseTableName = "tunnels"
    public static let databaseColumnDecodingStrategy = DatabaseColumnDecodingStrategy.convertFromSnakeCase
    public static let databaseColumnEncodingStrategy = DatabaseColumnEncodingStrategy.convertToSnakeCase

    public var id: Int64?
    public var network: String
    public var remote: String          // "192.0.2.7"
    public var vni: Int
    public var port: Int
    public var createdAt: Date

    public init(id: Int64? = nil, network: String, remote: String, vni: Int, port: Int, createdAt: Date) {
        self.id = id; self.network = network; self.remote = remote; self.vni = vni; self.port = port; self.createdAt = createdAt
    }

    public mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }

    /// The tunnel's interface name in the dataplane.
    public var interfaceName: String { "vxlan_tunnel\(id ?? 0)" }
}

extension StateStore {
    public func tunnels() throws -> [TunnelRecord] {
        try database.read { db in try TunnelRecord.order(Column("id")).fetchAll(db) }
    }

    public func tunnels(network: String) throws -> [TunnelRecord] {
        try database.read { db in try TunnelRecord.filter(Column("network") == network).order(Column("id")).fetchAll(db) }
    }

    /// Records a tunnel; a second tunnel of the network to the same remote,
    /// or one with the same (remote, VNI, port) is refused with 409.
    public func createTunnel(network: String, remote: String, vni: Int, port: Int, createdAt: Date = Date()) throws -> TunnelRecord {
        try database.write { db in
            guard try NetworkRecord.fetchOne(db, key: network) != nil else {
                throw ControlError(.notFound, code: "network_not_found",
                                   message: "network \"\(network)\" does not exist; create it first", field: "network")
            }
            if let same = try TunnelRecord.filter(Column("network") == network && Column("remote") == remote).fetchOne(db) {
                throw ControlError(.conflict, code: "tunnel_exists",
                                   message: "network \"\(network)\" already has tunnel \(same.interfaceName) to \(remote)", field: "remote")
            }
            if let same = try TunnelRecord.filter(Column("remote") == remote && Column("vni") == vni && Column("port") == port).fetchOne(db) {
                throw ControlError(.conflict, code: "tunnel_exists",
                                   message: "tunnel \(same.interfaceName) of network \"\(same.network)\" already receives VNI \(vni) from \(remote) on port \(port); use another VNI",
                                   field: "vni")
            }
            var record = TunnelRecord(network: network, remote: remote, vni: vni, port: port, createdAt: createdAt)
            try record.insert(db)
            return record
        }
    }

    /// Returns false if there was none.
    @discardableResult
    public func deleteTunnel(id: Int64) throws -> Bool {
        try database.write { db in try TunnelRecord.deleteOne(db, key: id) }
    }

    public func tunnelCount(network: String) throws -> Int {
        try database.read { db in try TunnelRecord.filter(Column("network") == network).fetchCount(db) }
    }
}
