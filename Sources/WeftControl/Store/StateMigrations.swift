import GRDB

/// Schema history of state.db. Never edit a registered migration: add a new
/// one, so databases written by older weftd versions upgrade in place.
enum StateMigrations {
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()

        migrator.registerMigration("v1-networks-attachments-leases") { db in
            try db.create(table: "networks") { t in
                t.primaryKey("name", .text)
                t.column("bridge_domain", .integer).notNull().unique()
                t.column("subnet", .text).notNull()
                t.column("mtu", .integer).notNull()
                t.column("mac_age_seconds", .integer).notNull()
                t.column("learn_limit", .integer).notNull()
                t.column("created_at", .datetime).notNull()
            }
            try db.create(table: "attachments") { t in
                t.column("container_id", .text).notNull()
                t.column("if_name", .text).notNull()
                t.primaryKey(["container_id", "if_name"])
                // RESTRICT: a network cannot disappear under its attachments.
                t.column("network", .text).notNull().indexed().references("networks", onDelete: .restrict)
                t.column("netns", .text).notNull()
                t.column("host_if_name", .text).notNull().unique()
                t.column("mac", .text).notNull()
                t.column("address", .text).notNull()
                t.column("prefix_length", .integer).notNull()
                t.column("mtu", .integer).notNull()
                t.column("created_at", .datetime).notNull()
            }
            try db.create(table: "leases") { t in
                t.column("network", .text).notNull().references("networks", onDelete: .restrict)
                t.column("address", .text).notNull()
                t.primaryKey(["network", "address"])
                t.column("container_id", .text).notNull()
                t.column("if_name", .text).notNull()
                // One address per attachment; the lease goes when the attachment goes.
                t.uniqueKey(["container_id", "if_name"])
                t.foreignKey(["container_id", "if_name"], references: "attachments",
                             columns: ["container_id", "if_name"], onDelete: .cascade)
            }
        }

        migrator.registerMigration("v2-host-interfaces") { db in
            try db.create(table: "host_interfaces") { t in
                t.primaryKey("name", .text)
                // RESTRICT, as for attachments: a network cannot disappear under its interfaces.
                t.column("network", .text).notNull().indexed().references("networks", onDelete: .restrict)
                t.column("created_at", .datetime).notNull()
            }
        }
        migrator.registerMigration("v3-attachment-gateway-external-address") { db in
            // gateway: default route inside the container (recreated as is by
            // the reconciler). ipam: "weft" (a lease row exists) or
            // "external" (the caller's address; weftd holds no lease for it).
            try db.alter(table: "attachments") { t in
                t.add(column: "gateway", .text)
                t.add(column: "ipam", .text).notNull().defaults(to: "weft")
            }
            // One address per network across both kinds: the leases table only
            // covers weftd's own leases.
            try db.create(index: "attachments_network_address", on: "attachments",
                          columns: ["network", "address"], unique: true)
        }
        migrator.registerMigration("v4-routes") { db in
            // Static routes of FIB table 0: prefix (canonical CIDR) via a next
            // hop on a network's subnet, restored after the networks.
            try db.create(table: "routes") { t in
                t.primaryKey("prefix", .text)
                t.column("next_hop", .text).notNull()
                t.column("created_at", .datetime).notNull()
            }
        }
        migrator.registerMigration("v5-uplink") { db in
            // At most one row: the routed AF_PACKET port (`POST /v1/uplink`).
            try db.create(table: "uplink") { t in
                t.primaryKey("name", .text)
                t.column("address", .text).notNull()      // "192.0.2.2/24"
                t.column("gateway", .text)                // default route via it, if any
                t.column("created_at", .datetime).notNull()
            }
        }
        migrator.registerMigration("v6-vxlan-tunnels-ipam-range") { db in
            // vni: the network spans nodes (VXLAN). range_start/range_end:
            // this node's part of the subnet for weftd's IPAM.
            try db.alter(table: "networks") { t in
                t.add(column: "vni", .integer)
                t.add(column: "range_start", .text)
                t.add(column: "range_end", .text)
            }
            // VXLAN tunnels: the interface name is vxlan_tunnel<id>, stable
            // across restarts. The local VTEP is the uplink's address.
            try db.create(table: "tunnels") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("network", .text).notNull().indexed().references("networks", onDelete: .restrict)
                t.column("remote", .text).notNull()
                t.column("vni", .integer).notNull()
                t.column("port", .integer).notNull()
                t.column("created_at", .datetime).notNull()
                // What vxlan4-input tells tunnels apart by.
                t.uniqueKey(["remote", "vni", "port"])
                t.uniqueKey(["network", "remote"])
            }
        }
        migrator.registerMigration("v7-nat44") { db in
            // masquerade: the network's hosts reach the uplink's side behind its address.
            try db.alter(table: "networks") { t in
                t.add(column: "masquerade", .boolean).notNull().defaults(to: false)
            }
            // Static port mappings (DNAT) of the uplink's address; a mapping with
            // a container_id goes when that container is detached.
            try db.create(table: "nat_mappings") { t in
                t.column("protocol", .text).notNull()
                t.column("external_port", .integer).notNull()
                t.primaryKey(["protocol", "external_port"])
                t.column("internal_address", .text).notNull()
                t.column("internal_port", .integer).notNull()
                t.column("container_id", .text).indexed()
                t.column("created_at", .datetime).notNull()
            }
            // At most one row (id 1): timeouts and excluded destinations.
            try db.create(table: "nat_config") { t in
                t.primaryKey("id", .integer)
                t.column("udp_timeout", .integer).notNull()
                t.column("tcp_established_timeout", .integer).notNull()
                t.column("tcp_transitory_timeout", .integer).notNull()
                t.column("icmp_timeout", .integer).notNull()
                t.column("exclude", .text).notNull()       // comma-separated CIDRs
            }
        }
        migrator.registerMigration("v8-io-drivers") { db in
            // How the dataplane opens a host interface: af-packet or af-xdp.
            try db.alter(table: "host_interfaces") { t in
                t.add(column: "driver", .text).notNull().defaults(to: "af-packet")
            }
            // attach: "veth" (a veth pair, the host end opened with `driver`)
            // or "tap" (a TAP device weftd creates in the container; no veth).
            try db.alter(table: "attachments") { t in
                t.add(column: "attach", .text).notNull().defaults(to: "veth")
                t.add(column: "driver", .text).notNull().defaults(to: "af-packet")
                t.add(column: "queues", .integer).notNull().defaults(to: 1)
                // Anti-spoofing: the container sends only from its own MAC and address.
                t.add(column: "source_guard", .boolean).notNull().defaults(to: true)
            }
        }
        migrator.registerMigration("v9-vrf") { db in
            // vrf: the FIB table of a network's gateway (0: the default table).
            try db.alter(table: "networks") { t in
                t.add(column: "vrf", .integer).notNull().defaults(to: 0)
            }
            // Static routes per VRF: the primary key becomes (vrf, prefix).
            // SQLite cannot change a primary key in place: copy into a new
            // table. WITHOUT ROWID: the key is the only B-tree, so a bulk
            // load (sorted by key) appends to one tree instead of two.
            try db.create(table: "routes_v9", options: [.withoutRowID]) { t in
                t.column("vrf", .integer).notNull().defaults(to: 0)
                t.column("prefix", .text).notNull()
                t.primaryKey(["vrf", "prefix"])
                t.column("next_hop", .text).notNull()
                t.column("created_at", .datetime).notNull()
            }
            try db.execute(sql: "INSERT INTO routes_v9 (vrf, prefix, next_hop, created_at) SELECT 0, prefix, next_hop, created_at FROM routes")
            try db.drop(table: "routes")
            try db.rename(table: "routes_v9", to: "routes")
        }
        migrator.registerMigration("v10-attachment-bandwidth") { db in
            // Bandwidth limits (CNI bandwidth capability), enforced by the
            // dataplane's policers: rates in bits/s, bursts in bits; NULL =
            // that direction is not limited. (Separate from v9-vrf, after it.)
            try db.alter(table: "attachments") { t in
                t.add(column: "ingress_rate", .integer)
                t.add(column: "ingress_burst", .integer)
                t.add(column: "egress_rate", .integer)
                t.add(column: "egress_burst", .integer)
            }
        }
        return migrator
    }
}
