import Foundation
import GRDB

extension StateStore {
    public func routes() throws -> [RouteRecord] {
        try database.read { db in try RouteRecord.order(Column("created_at"), Column("prefix")).fetchAll(db) }
    }

    public func route(prefix: String) throws -> RouteRecord? {
        try database.read { db in try RouteRecord.fetchOne(db, key: prefix) }
    }

    /// Records `routes` in one transaction: all or none. A prefix already
    /// recorded is a conflict (field `prefix`).
    @discardableResult
    public func createRoutes(_ routes: [(prefix: String, nextHop: String)], createdAt: Date = Date()) throws -> [RouteRecord] {
        try database.write { db in
            var out: [RouteRecord] = []
            for r in routes {
                if let existing = try RouteRecord.fetchOne(db, key: r.prefix) {
                    throw ControlError(.conflict, code: "route_exists",
                                       message: "a route for \(r.prefix) already exists (via \(existing.nextHop)); delete it first",
                                       field: "prefix")
                }
                let record = RouteRecord(prefix: r.prefix, nextHop: r.nextHop, createdAt: createdAt)
                try record.insert(db)
                out.append(record)
            }
            return out
        }
    }

    /// Returns false if no such record existed.
    @discardableResult
    public func deleteRoute(prefix: String) throws -> Bool {
        try database.write { db in try RouteRecord.deleteOne(db, key: prefix) }
    }

    public func deleteRoutes(prefixes: [String]) throws {
        try database.write { db in for p in prefixes { _ = try RouteRecord.deleteOne(db, key: p) } }
    }
}
