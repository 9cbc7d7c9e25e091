import Foundation
import GRDB

extension StateStore {
    public func networks() throws -> [NetworkRecord] {
        try database.read { db in try NetworkRecord.order(Column("name")).fetchAll(db) }
    }

    public func network(named name: String) throws -> NetworkRecord? {
        try database.read { db in try NetworkRecord.fetchOne(db, key: name) }
    }

    /// Bridge domain ids handed out automatically start here.
    public static let firstBridgeDomain = 1

    /// Inserts a network. A nil `bridgeDomain` takes the lowest free id
    /// (from 1), chosen inside the same transaction as the insert.
    public func createNetwork(name: String, subnet: String, mtu: Int, bridgeDomain: Int?, macAgeSeconds: Int,
                              learnLimit: Int, vni: Int? = nil, rangeStart: String? = nil, rangeEnd: String? = nil,
                              masquerade: Bool = false, vrf: Int = 0, createdAt: Date = Date()) throws -> NetworkRecord {
        try database.write { db in
            if try NetworkRecord.fetchOne(db, key: name) != nil {
                throw ControlError(.conflict, code: "network_exists",
                                   message: "network \"\(name)\" already exists", field: "name")
            }
            let used = Set(try Int.fetchAll(db, sql: "SELECT bridge_domain FROM networks"))
            let domain: Int
            if let requested = bridgeDomain {
                if used.contains(requested) {
                    throw ControlError(.conflict, code: "bridge_domain_in_use",
                                       message: "bridge domain \(requested) is used by another network; pick another or leave bridgeDomain out",
                                       field: "bridgeDomain")
                }
                domain = requested
            } else {
                var candidate = Self.firstBridgeDomain
                while used.contains(candidate) { candidate += 1 }
                domain = candidate
            }
            if let vni, let other = try NetworkRecord.filter(Column("vni") == vni).fetchOne(db) {
                throw ControlError(.conflict, code: "vni_in_use",
                                   message: "VNI \(vni) is used by network \"\(other.name)\"; one VNI per network", field: "vni")
            }
            // Subnets may overlap across VRFs (that is what VRFs are for),
            // never within one: checked here, in the inserting transaction.
            if let parsed = try? IPv4Subnet.parse(subnet) {
                let sameVRF = try NetworkRecord.filter(Column("vrf") == vrf).fetchAll(db)
                for other in sameVRF {
                    guard let o = try? IPv4Subnet.parse(other.subnet) else { continue }
                    if o.contains(parsed.network) || parsed.contains(o.network) {
                        throw ControlError(.conflict, code: "subnet_overlaps",
                                           message: "subnet \(parsed) overlaps network \"\(other.name)\" (\(o)) in vrf \(vrf); pick another subnet or another vrf",
                                           field: "subnet")
                    }
                }
            }
            let record = NetworkRecord(name: name, bridgeDomain: domain, subnet: subnet, mtu: mtu,
                                       macAgeSeconds: macAgeSeconds, learnLimit: learnLimit, createdAt: createdAt,
                                       vni: vni, rangeStart: rangeStart, rangeEnd: rangeEnd, masquerade: masquerade, vrf: vrf)
            try record.insert(db)
            return record
        }
    }

    /// Deletes a network that has no attachments and no host interfaces.
    /// Returns false if it did not exist.
    @discardableResult
    public func deleteNetwork(named name: String) throws -> Bool {
        try database.write { db in
            let attached = try AttachmentRecord.filter(Column("network") == name).fetchCount(db)
            if attached > 0 {
                throw ControlError(.conflict, code: "network_in_use",
                                   message: "network \"\(name)\" still has \(attached) attachment(s); detach them first")
            }
            let bridged = try HostInterfaceRecord.filter(Column("network") == name).fetchCount(db)
            if bridged > 0 {
                throw Self.networkHasHostInterfaces(name, count: bridged)
            }
            let tunnels = try TunnelRecord.filter(Column("network") == name).fetchCount(db)
            if tunnels > 0 {
                throw Self.networkHasTunnels(name, count: tunnels)
            }
            return try NetworkRecord.deleteOne(db, key: name)
        }
    }

    static func networkHasHostInterfaces(_ name: String, count: Int) -> ControlError {
        ControlError(.conflict, code: "network_in_use",
                     message: "network \"\(name)\" still has \(count) host interface(s); remove them first (weftctl interface delete NAME)")
    }

    static func networkHasTunnels(_ name: String, count: Int) -> ControlError {
        ControlError(.conflict, code: "network_in_use",
                     message: "network \"\(name)\" still has \(count) VXLAN tunnel(s); delete them first (weftctl tunnel delete NAME)")
    }

    public func attachmentCount(network: String) throws -> Int {
        try database.read { db in try AttachmentRecord.filter(Column("network") == network).fetchCount(db) }
    }
}
