/// All IPv4 forwarding tables of the dataplane, by table index (one per VRF;
/// index 0 is the default table and always exists).
///
/// Workers read `views`: one `FIBLookup` per index in a flat array, so the
/// ip4 nodes find a packet's table as `fib.views[Int(meta.fibIndex)]` without
/// retaining anything. An index without a table holds the view of a shared,
/// read-only, all-zero table: every lookup in it misses (no branch on "table
/// exists"). Tables are created, changed and destroyed on the control thread
/// under the worker barrier.
public final class FIB {
    /// Number of table indexes (0..<capacity).
    public let capacity: Int
    public let views: UnsafeMutablePointer<FIBLookup>
    private var tables: [FIBTable?]

    /// - Parameters:
    ///   - capacity: table indexes 0..<capacity.
    ///   - defaultGroupCapacity: group pool of table 0.
    public init(capacity: Int = 1024, defaultGroupCapacity: Int = FIBTable.defaultGroupCapacity) throws {
        precondition(capacity >= 1)
        self.capacity = capacity
        tables = Array(repeating: nil, count: capacity)
        views = .allocate(capacity: capacity)
        views.initialize(repeating: try FIB.emptyView(), count: capacity)
        try create(0, groupCapacity: defaultGroupCapacity)
    }

    deinit {
        views.deinitialize(count: capacity)
        views.deallocate()
    }

    /// Creates table `index` (a new VRF).
    @discardableResult
    public func create(_ index: Int, groupCapacity: Int = FIBTable.defaultGroupCapacity, hugePages: Bool = false) throws -> FIBTable {
        guard (0..<capacity).contains(index), tables[index] == nil else { throw FIBError.invalidTableIndex(index) }
        let t = try FIBTable(groupCapacity: groupCapacity, hugePages: hugePages)
        tables[index] = t
        views[index] = t.lookupView
        return t
    }

    /// Destroys table `index` (not 0); its memory goes back to the kernel.
    public func destroy(_ index: Int) throws {
        guard index != 0, (0..<capacity).contains(index), tables[index] != nil else { throw FIBError.noSuchTable(index) }
        views[index] = try FIB.emptyView()
        tables[index] = nil
    }

    /// Table `index`, or nil.
    public func table(_ index: Int) -> FIBTable? {
        (0..<capacity).contains(index) ? tables[index] : nil
    }

    /// Indexes that hold a table, ascending.
    public var tableIndexes: [Int] { tables.indices.filter { tables[$0] != nil } }

    /// Scalar lookup in table `index` (must be < capacity).
    @inlinable @inline(__always)
    public func lookup(table index: Int, _ address: UInt32) -> UInt32 { views[index].lookup(address) }

    // A single read-only all-zero first level + one group shared by every
    // missing table: reading it maps only the kernel's zero page.
    private static let empty: Result<FIBLookup, FIBError> = {
        do {
            let m24 = try ZeroMapping(bytes: FIBTable.tbl24Count * 4, writable: false)
            let m8 = try ZeroMapping(bytes: 256 * 4, writable: false)
            return .success(FIBLookup(tbl24: UnsafePointer(m24.base.assumingMemoryBound(to: UInt32.self)),
                                      tbl8: UnsafePointer(m8.base.assumingMemoryBound(to: UInt32.self))))
        } catch let e as FIBError {
            return .failure(e)
        } catch {
            return .failure(.outOfMemory(bytes: FIBTable.tbl24Count * 4))
        }
    }()

    static func emptyView() throws -> FIBLookup { try empty.get() }
}
