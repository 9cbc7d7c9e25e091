/// Why a FIB change was refused. Nothing in the FIB traps on bad input or on
/// running out of space: the control plane gets one of these and the table is
/// left exactly as it was before the call.
public enum FIBError: Error, Equatable, CustomStringConvertible {
    /// Prefix length outside 0...32.
    case invalidPrefixLength(Int)
    /// Adjacency index above `FIBTable.maxAdjacency` (the top bit marks group entries).
    case adjacencyOutOfRange(UInt32)
    /// A prefix longer than /24 needs a free 256-entry second-level group and the
    /// table's pool has none left. Counted in `FIBTable.groupExhaustions`.
    case groupsExhausted(capacity: Int)
    /// Group pool size outside 1...`FIBTable.maxGroupCapacity`.
    case invalidGroupCapacity(Int)
    /// No table with this index (see `FIB`).
    case noSuchTable(Int)
    /// Table index outside the FIB's capacity, or already in use.
    case invalidTableIndex(Int)
    /// mmap of the lookup tables failed.
    case outOfMemory(bytes: Int)
    /// A DXR table's reserved word pool (range blocks or route lists) is full.
    case poolExhausted(pool: String, words: Int)

    public var description: String {
        switch self {
        case .invalidPrefixLength(let l): return "prefix length \(l) is not in 0...32"
        case .adjacencyOutOfRange(let a): return "adjacency \(a) is above \(FIBTable.maxAdjacency)"
        case .groupsExhausted(let c): return "all \(c) second-level groups are in use (prefixes longer than /24)"
        case .invalidGroupCapacity(let c): return "group capacity \(c) is not in 1...\(FIBTable.maxGroupCapacity)"
        case .noSuchTable(let i): return "no FIB table \(i)"
        case .invalidTableIndex(let i): return "FIB table index \(i) is out of range or in use"
        case .poolExhausted(let pool, let w):
            return "the DXR FIB table's \(pool) pool is full (\(w) words reserved): remove routes from this table, "
                + "or run weftd with fib_algorithm: dir24-8 (FIBRangeTable users: a larger poolWords)"
        case .outOfMemory(let b): return "cannot map \(b) bytes for the FIB"
        }
    }
}
