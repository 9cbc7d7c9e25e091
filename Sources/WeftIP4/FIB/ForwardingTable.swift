/// The structure behind a dataplane's FIB tables, chosen once per weftd
/// (`fib_algorithm` in weftd.yaml). docs/fib.md has the measurements behind
/// the default.
public enum FIBAlgorithm: String, CaseIterable, Sendable, Codable {
    /// `FIBTable`: rte_lpm's layout; one memory access for prefixes up to /24,
    /// two for longer ones, whatever their number: the fastest on a container
    /// node's FIB (dense /24s, a /32 per pod). A 64 MiB first level per table
    /// (address space; resident as routes spread) and a pool of /24 groups.
    case dir248 = "dir24-8"
    /// `FIBRangeTable`: a 1 MiB direct table and searched range blocks; 14 MiB
    /// and faster than rte_lpm at 1M routes, 1 MiB for a table holding a
    /// default route (DIR-24-8: 64 MiB). Slower where a chunk holds many
    /// ranges (hundreds of /32s side by side).
    case dxr

    public static let `default`: FIBAlgorithm = .dir248
}

/// The control side of one FIB table, whatever its structure: what `FIB`,
/// `IP4Feature` and the API need. Changes run on the control thread under
/// the worker barrier, except a neighbour's /32 host route, which the worker
/// adds and removes itself when it learns or ages the neighbour (one writer at
/// a time either way; that slow path, once per neighbour, may allocate and
/// goes through this existential). Packets are looked up through `view` only.
public protocol ForwardingTable: AnyObject {
    var algorithm: FIBAlgorithm { get }
    /// Number of prefixes.
    var count: Int { get }
    /// The read side for workers, valid as long as the table lives (its
    /// pointers never move).
    var view: FIBView { get }
    /// Adds `address/length` -> `adjacency`, replacing the prefix's adjacency
    /// if it is there. Throws `FIBError` (and changes nothing) on a bad length
    /// or adjacency, or when the table's memory is used up.
    func add(_ address: UInt32, length: Int, adjacency: UInt32) throws
    /// Removes the prefix; false when it was not there.
    @discardableResult func delete(_ address: UInt32, length: Int) -> Bool
    /// Removes every prefix and hands the memory back.
    func removeAll()
    /// After many changes in a row (a bulk load): give back what they left
    /// unused. May move lookup memory: under the barrier.
    func compactAfterBulkLoad()
    /// The adjacency stored for exactly this prefix, or nil.
    func adjacency(of address: UInt32, length: Int) -> UInt32?
    /// The longest stored prefix matching `address`, from the prefix store.
    func longestMatch(_ address: UInt32) -> FIBRoute?
    /// Longest match from the prefix store rather than the lookup tables (the
    /// test oracle).
    func referenceLookup(_ address: UInt32) -> UInt32
    /// Every prefix, shortest first, then by address.
    func routes() -> [FIBRoute]
    /// Resident bytes of the lookup side and of the control side (mincore).
    func residentBytes() -> (lookup: Int, control: Int)
}

extension ForwardingTable {
    public func add(_ prefix: IPv4Prefix, adjacency: UInt32) throws {
        try add(prefix.address, length: prefix.length, adjacency: adjacency)
    }
    @discardableResult
    public func delete(_ prefix: IPv4Prefix) -> Bool { delete(prefix.address, length: prefix.length) }
}

extension FIBTable: ForwardingTable {
    public var algorithm: FIBAlgorithm { .dir248 }
    public var view: FIBView { .dir248(lookupView) }
    /// Nothing to give back: groups return to the pool as they empty.
    public func compactAfterBulkLoad() {}
}

extension FIBRangeTable: ForwardingTable {
    public var algorithm: FIBAlgorithm { .dxr }
    public var view: FIBView { .dxr(lookupView) }
}
