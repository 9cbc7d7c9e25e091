import Foundation
import GRDB

extension StateStore {
    public func attachments() throws -> [AttachmentRecord] {
        try database.read { db in
            try AttachmentRecord.order(Column("created_at"), Column("container_id"), Column("if_name")).fetchAll(db)
        }
    }

    public func attachment(containerId: String, ifName: String) throws -> AttachmentRecord? {
        try database.read { db in
            try AttachmentRecord.fetchOne(db, key: ["container_id": containerId, "if_name": ifName])
        }
    }

    public func leases(network: String) throws -> [LeaseRecord] {
        try database.read { db in try LeaseRecord.filter(Column("network") == network).fetchAll(db) }
    }

    public func allLeases() throws -> [LeaseRecord] {
        try database.read { db in try LeaseRecord.fetchAll(db) }
    }

    /// Records a new attachment and leases it the lowest free address of its
    /// network, both in one transaction: either both rows exist or neither.
    /// `mtu` nil means the network's MTU.
    public func createAttachment(containerId: String, ifName: String, network networkName: String, netns: String,
                                 mtu: Int?, createdAt: Date = Date()) throws -> AttachmentRecord {
        try database.write { db in
            if try AttachmentRecord.fetchOne(db, key: ["container_id": containerId, "if_name": ifName]) != nil {
                throw ControlError(.conflict, code: "attachment_exists",
                                   message: "container \"\(containerId)\" already has an interface \"\(ifName)\"; detach it first or pick another ifName",
                                   field: "ifName")
            }
            guard let network = try NetworkRecord.fetchOne(db, key: networkName) else {
                throw ControlError(.notFound, code: "network_not_found",
                                   message: "network \"\(networkName)\" does not exist; create it first", field: "network")
            }
            guard let subnet = try? IPv4Subnet.parse(network.subnet) else {
                throw ControlError(.internal, code: "corrupt_state",
                                   message: "network \"\(networkName)\" has an invalid stored subnet \"\(network.subnet)\"")
            }
            let leased = Set(try String.fetchAll(db, sql: "SELECT address FROM leases WHERE network = ?",
                                                 arguments: [networkName]).compactMap(IPv4Address.init))
            guard let address = AddressAllocator.lowestFree(in: subnet, leased: leased) else {
                throw ControlError(.conflict, code: "subnet_exhausted",
                                   message: "network \"\(networkName)\" has no free address left in \(subnet)",
                                   field: "network")
            }
            let hostIfName = InterfaceIdentity.hostIfName(containerId: containerId, ifName: ifName)
            if let holder = try AttachmentRecord.filter(Column("host_if_name") == hostIfName).fetchOne(db) {
                // 32-bit hash collision between two attachments: vanishingly
                // rare, but must not silently share a veth.
                throw ControlError(.conflict, code: "host_interface_taken",
                                   message: "host interface name \(hostIfName) is already used by \(holder.containerId)/\(holder.ifName); use another ifName",
                                   field: "ifName")
            }
            if let taken = try HostInterfaceRecord.fetchOne(db, key: hostIfName) {
                // An existing link of that name was added with POST
                // /v1/interfaces: the attach would delete it as stale.
                throw ControlError(.conflict, code: "host_interface_taken",
                                   message: "host interface name \(hostIfName) is already an interface of network \(taken.network) (added with interface add); use another ifName",
                                   field: "ifName")
            }
            let record = AttachmentRecord(
                containerId: containerId, ifName: ifName, network: networkName, netns: netns,
                hostIfName: hostIfName, mac: InterfaceIdentity.format(mac: InterfaceIdentity.mac(for: address)),
                address: address.description, prefixLength: subnet.prefixLength, mtu: mtu ?? network.mtu,
                createdAt: createdAt)
            try record.insert(db)
            try LeaseRecord(network: networkName, address: address.description, containerId: containerId,
                            ifName: ifName).insert(db)
            return record
        }
    }

    /// Deletes an attachment and its lease. Returns false if it did not exist.
    @discardableResult
    public func deleteAttachment(containerId: String, ifName: String) throws -> Bool {
        try database.write { db in
            // The cascade would do this too; being explicit keeps the lease
            // release visible here and independent of the FK pragma.
            try LeaseRecord.filter(Column("container_id") == containerId && Column("if_name") == ifName).deleteAll(db)
            return try AttachmentRecord.deleteOne(db, key: ["container_id": containerId, "if_name": ifName])
        }
    }
}
