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

    /// Records the MAC the container's interface has now (it changed it after
    /// the attachment; SourceGuardFollower). False when the attachment is gone.
    @discardableResult
    public func updateAttachmentMAC(containerId: String, ifName: String, mac: String) throws -> Bool {
        try database.write { db in
            try AttachmentRecord.filter(Column("container_id") == containerId && Column("if_name") == ifName)
                .updateAll(db, Column("mac").set(to: mac)) > 0
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
    ///
    /// With `address` the attachment uses that address instead (an
    /// "external" one, e.g. from a CNI IPAM plugin): it must be an assignable
    /// host of the network's subnet (prefix `addressPrefix`, when given, must
    /// be the subnet's) that no other attachment holds, and no lease row is
    /// written for it. `gateway` (a host of the subnet other than the
    /// attachment's address) is recorded for the default route.
    public func createAttachment(containerId: String, ifName: String, network networkName: String, netns: String,
                                 mtu: Int?, address requested: IPv4Address? = nil, addressPrefix: Int? = nil,
                                 gateway: IPv4Address? = nil, attach: AttachMode = .veth, driver: String = PortDriver.afPacket.rawValue,
                                 queues: Int = 1, sourceGuard: Bool = true, bandwidth: BandwidthLimits? = nil,
                                 createdAt: Date = Date()) throws -> AttachmentRecord {
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
            // Taken: weftd's leases and every attachment's address (external
            // addresses have no lease row).
            var taken = Set(try String.fetchAll(db, sql: "SELECT address FROM leases WHERE network = ?",
                                                arguments: [networkName]).compactMap(IPv4Address.init))
            taken.formUnion(try String.fetchAll(db, sql: "SELECT address FROM attachments WHERE network = ?",
                                                arguments: [networkName]).compactMap(IPv4Address.init))
            let address: IPv4Address
            if let requested {
                try Self.checkExternal(requested, prefix: addressPrefix, in: subnet, network: networkName)
                if taken.contains(requested) {
                    let holder = try AttachmentRecord.filter(Column("network") == networkName
                                                             && Column("address") == requested.description).fetchOne(db)
                    let who = holder.map { " by \($0.containerId)/\($0.ifName)" } ?? ""
                    throw ControlError(.conflict, code: "address_taken",
                                       message: "address \(requested) is already in use in network \"\(networkName)\"\(who); release it or ask for another",
                                       field: "address")
                }
                address = requested
            } else {
                let range = network.ipamRange
                guard let free = AddressAllocator.lowestFree(in: subnet, leased: taken, range: range) else {
                    let where_ = range.map { "its range \(IPv4Address($0.lowerBound))-\(IPv4Address($0.upperBound))" } ?? "\(subnet)"
                    throw ControlError(.conflict, code: "subnet_exhausted",
                                       message: "network \"\(networkName)\" has no free address left in \(where_)",
                                       field: "network")
                }
                address = free
            }
            if let gateway {
                try Self.checkGateway(gateway, address: address, in: subnet, network: networkName)
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
                createdAt: createdAt, gateway: gateway?.description,
                ipam: requested == nil ? AttachmentInfo.IPAM.weft.rawValue : AttachmentInfo.IPAM.external.rawValue,
                attach: attach.rawValue, driver: driver, queues: queues, sourceGuard: sourceGuard, bandwidth: bandwidth)
            try record.insert(db)
            if requested == nil {
                try LeaseRecord(network: networkName, address: address.description, containerId: containerId,
                                ifName: ifName).insert(db)
            }
            return record
        }
    }

    /// An external address must be a host of the subnet that weftd's IPAM
    /// could hand out too: not the network or broadcast address, and not the
    /// first host, which is reserved for the network's gateway.
    static func checkExternal(_ address: IPv4Address, prefix: Int?, in subnet: IPv4Subnet, network: String) throws {
        if let prefix, prefix != subnet.prefixLength {
            throw ControlError.invalidField("address",
                "address \(address)/\(prefix) has prefix /\(prefix), but network \"\(network)\" is \(subnet); use /\(subnet.prefixLength)")
        }
        guard subnet.contains(address) else {
            throw ControlError.invalidField("address",
                "address \(address) is outside network \"\(network)\"'s subnet \(subnet); configure the IPAM range inside it")
        }
        guard subnet.assignableRange.contains(address.value) else {
            let what = address == subnet.network ? "the network address"
                : address == subnet.broadcast ? "the broadcast address"
                : "reserved for the network's gateway"
            throw ControlError.invalidField("address",
                "address \(address) is \(what) of \(subnet); use \(IPv4Address(subnet.assignableRange.lowerBound)) to \(IPv4Address(subnet.assignableRange.upperBound))")
        }
    }

    static func checkGateway(_ gateway: IPv4Address, address: IPv4Address, in subnet: IPv4Subnet,
                             network: String) throws {
        guard subnet.contains(gateway), gateway != subnet.network, gateway != subnet.broadcast else {
            throw ControlError.invalidField("gateway",
                "gateway \(gateway) is not a host of network \"\(network)\"'s subnet \(subnet); the default route needs a gateway on the link, e.g. \(subnet.reservedGateway)")
        }
        guard gateway != address else {
            throw ControlError.invalidField("gateway",
                "gateway \(gateway) is the attachment's own address; use the network's gateway, e.g. \(subnet.reservedGateway)")
        }
    }

    /// Deletes an attachment and its lease (an attachment with an external
    /// address has none: its address is not weftd's to release). Returns
    /// false if it did not exist.
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
