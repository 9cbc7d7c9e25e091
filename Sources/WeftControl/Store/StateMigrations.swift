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
        return migrator
    }
}
