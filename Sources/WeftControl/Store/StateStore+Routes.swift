import Foundation
import GRDB

extension StateStore {
    /// Every static route (all VRFs, or only `vrf`), in the order they were
    /// added (the routes of one request by VRF and prefix). Rows are read
    /// without Codable: a table may hold a million of them.
    public func routes(vrf: Int? = nil) throws -> [RouteRecord] {
        try database.read { db in
            var out: [RouteRecord] = []
            let sql = "SELECT vrf, prefix, next_hop, created_at FROM routes"
                + (vrf == nil ? "" : " WHERE vrf = ?") + " ORDER BY created_at, vrf, prefix"
            let rows = try Row.fetchCursor(db, sql: sql, arguments: vrf.map { [$0] } ?? StatementArguments())
            while let row = try rows.next() {
                out.append(RouteRecord(prefix: row[1], nextHop: row[2], createdAt: row[3], vrf: row[0]))
            }
            return out
        }
    }

    /// What restoring a route needs (no dates to parse), in key order.
    public struct StoredRoute: Sendable, Equatable {
        public var vrf: Int
        public var prefix: String
        public var nextHop: String
        public init(vrf: Int, prefix: String, nextHop: String) { self.vrf = vrf; self.prefix = prefix; self.nextHop = nextHop }
    }

    public func storedRoutes() throws -> [StoredRoute] {
        try database.read { db in
            var out: [StoredRoute] = []
            let rows = try Row.fetchCursor(db, sql: "SELECT vrf, prefix, next_hop FROM routes")
            while let row = try rows.next() { out.append(StoredRoute(vrf: row[0], prefix: row[1], nextHop: row[2])) }
            return out
        }
    }

    public func route(prefix: String, vrf: Int = 0) throws -> RouteRecord? {
        try database.read { db in try RouteRecord.fetchOne(db, key: ["vrf": vrf, "prefix": prefix]) }
    }

    /// Records `routes` in one transaction: all or none. A (vrf, prefix)
    /// already recorded is a conflict (field `prefix`). `whileOpen` runs
    /// inside the transaction after the inserts (programming the
    /// dataplane): if it throws, nothing is recorded.
    public func createRoutes(_ routes: [(vrf: Int, prefix: String, nextHop: String)], createdAt: Date = Date(),
                             whileOpen: () throws -> Void = {}) throws {
        // Inserted in key order: each insert appends to the (WITHOUT ROWID)
        // key's B-tree instead of landing on a random page. In file order,
        // with SQLite's default 2 MB page cache, every insert read and
        // spilled pages (measured: 18.8 of a 33.8 s million-route load).
        // Large loads also get a bigger cache for their transaction, handed
        // back afterwards.
        let order = routes.indices.sorted { a, b in
            routes[a].vrf != routes[b].vrf ? routes[a].vrf < routes[b].vrf : routes[a].prefix < routes[b].prefix
        }
        let large = routes.count > 10_000
        if large { try database.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA cache_size = -65536") } }
        defer {
            if large {
                try? database.writeWithoutTransaction { db in
                    try db.execute(sql: "PRAGMA cache_size = -2000")
                    try db.execute(sql: "PRAGMA shrink_memory")
                }
            }
        }
        try database.write { db in
            let insert = try db.makeStatement(sql: "INSERT INTO routes (vrf, prefix, next_hop, created_at) VALUES (?, ?, ?, ?)")
            let date = createdAt.databaseValue
            for i in order {
                let r = routes[i]
                do {
                    try insert.execute(arguments: [r.vrf.databaseValue, r.prefix.databaseValue, r.nextHop.databaseValue, date])
                } catch let error as DatabaseError where error.resultCode == .SQLITE_CONSTRAINT {
                    let existing = try RouteRecord.fetchOne(db, key: ["vrf": r.vrf, "prefix": r.prefix])
                    throw ControlError(.conflict, code: "route_exists",
                                       message: "a route for \(r.prefix)\(r.vrf == 0 ? "" : " in vrf \(r.vrf)") already exists"
                                           + (existing.map { " (via \($0.nextHop))" } ?? "") + "; delete it first",
                                       field: "prefix")
                }
            }
            try whileOpen()
        }
    }

    /// Returns false if no such record existed.
    @discardableResult
    public func deleteRoute(prefix: String, vrf: Int = 0) throws -> Bool {
        try database.write { db in try RouteRecord.deleteOne(db, key: ["vrf": vrf, "prefix": prefix]) }
    }

    public func deleteRoutes(_ keys: [(vrf: Int, prefix: String)]) throws {
        try database.write { db in
            let delete = try db.makeStatement(sql: "DELETE FROM routes WHERE vrf = ? AND prefix = ?")
            for k in keys { try delete.execute(arguments: [k.vrf.databaseValue, k.prefix.databaseValue]) }
        }
    }
}
