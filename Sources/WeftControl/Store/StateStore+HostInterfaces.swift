import Foundation
import GRDB

extension StateStore {
    public func hostInterfaces() throws -> [HostInterfaceRecord] {
        try database.read { db in
            try HostInterfaceRecord.order(Column("created_at"), Column("name")).fetchAll(db)
        }
    }

    public func hostInterface(named name: String) throws -> HostInterfaceRecord? {
        try database.read { db in try HostInterfaceRecord.fetchOne(db, key: name) }
    }

    /// Records that link `name` belongs to `network`. Refuses, in the same
    /// transaction as the insert, a name already recorded or used as an
    /// attachment's host veth, and an unknown network.
    public func createHostInterface(name: String, network networkName: String, driver: PortDriver = .afPacket,
                                    createdAt: Date = Date()) throws -> HostInterfaceRecord {
        try database.write { db in
            if let existing = try HostInterfaceRecord.fetchOne(db, key: name) {
                throw Self.hostInterfaceExists(name, network: existing.network)
            }
            if let holder = try AttachmentRecord.filter(Column("host_if_name") == name).fetchOne(db) {
                throw Self.hostInterfaceIsAttachment(name, holder)
            }
            guard try NetworkRecord.fetchOne(db, key: networkName) != nil else {
                throw ControlError(.notFound, code: "network_not_found",
                                   message: "network \"\(networkName)\" does not exist; create it first", field: "network")
            }
            let record = HostInterfaceRecord(name: name, network: networkName, createdAt: createdAt, driver: driver.rawValue)
            try record.insert(db)
            return record
        }
    }

    /// Returns false if no such record existed.
    @discardableResult
    public func deleteHostInterface(named name: String) throws -> Bool {
        try database.write { db in try HostInterfaceRecord.deleteOne(db, key: name) }
    }

    public func hostInterfaceCount(network: String) throws -> Int {
        try database.read { db in try HostInterfaceRecord.filter(Column("network") == network).fetchCount(db) }
    }

    /// The attachment whose host veth is `hostIfName`, if any.
    public func attachment(hostIfName: String) throws -> AttachmentRecord? {
        try database.read { db in try AttachmentRecord.filter(Column("host_if_name") == hostIfName).fetchOne(db) }
    }

    static func hostInterfaceExists(_ name: String, network: String) -> ControlError {
        ControlError(.conflict, code: "interface_exists",
                     message: "interface \"\(name)\" is already in network \"\(network)\"; delete it first to move it",
                     field: "name")
    }

    static func hostInterfaceIsAttachment(_ name: String, _ holder: AttachmentRecord) -> ControlError {
        ControlError(.conflict, code: "interface_is_attachment",
                     message: "interface \"\(name)\" is the host end of attachment \(holder.containerId)/\(holder.ifName); it is already bridged",
                     field: "name")
    }
}
