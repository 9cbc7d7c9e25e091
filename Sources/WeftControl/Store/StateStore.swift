import Foundation
import GRDB

/// weftd's durable desired state (networks, attachments, IPAM leases) in
/// SQLite. WAL mode (synchronous=NORMAL): a committed transaction survives kill -9, and readers
/// (API GETs) never block the writer.
public final class StateStore: Sendable {
    public let path: String
    let database: DatabasePool

    /// Opens (creating if needed) the database at `path`, creating its parent
    /// directory, and migrates the schema to the current version.
    public init(path: String) throws {
        self.path = path
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o755])
        }
        var configuration = Configuration()
        configuration.foreignKeysEnabled = true
        // Another process holding a write lock (e.g. sqlite3 poking at it)
        // should delay us briefly, not fail the API call.
        configuration.busyMode = .timeout(5)
        configuration.label = "weft.state"
        // WAL + synchronous=NORMAL: a commit is durable against a crash of
        // weftd (kill -9), not against power loss, and skips an fsync per
        // transaction on the attach path. After a power loss the containers'
        // namespaces are gone too; the reconciler then drops their attachments.
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
        }
        database = try DatabasePool(path: path, configuration: configuration)
        try StateMigrations.migrator.migrate(database)
    }
}
