/// All IPv4 forwarding tables of the dataplane, by table index (one per VRF;
/// index 0 is the default table and always exists), all of one structure
/// (`algorithm`).
///
/// Workers read `views`: one `FIBView` per index in a flat array, so the
/// ip4 nodes find a packet's table as `fib.views[Int(meta.fibIndex)]` without
/// retaining anything. An index without a table holds the view of a shared,
/// read-only, all-zero table: every lookup in it misses (no branch on "table
/// exists"). Tables are created, changed and destroyed on the control thread
/// under the worker barrier.
public final class FIB {
    /// Words reserved for each of a DXR table's two pools: 128 MiB of address
    /// space each (`MAP_NORESERVE`), ten times what a million routes take
    /// (13 MiB of ranges, 9 MiB of route lists), and together about what a
    /// DIR-24-8 table reserves (64 MiB + 128 MiB of groups + 48 MiB of shadows).
    public static let dxrPoolWords = 1 << 25

    /// Number of table indexes (0..<capacity).
    public let capacity: Int
    /// The structure of every table.
    public let algorithm: FIBAlgorithm
    public let views: UnsafeMutablePointer<FIBView>
    private var tables: [(any ForwardingTable)?]

    /// - Parameters:
    ///   - capacity: table indexes 0..<capacity.
    ///   - algorithm: the tables' structure.
    ///   - defaultGroupCapacity: group pool of table 0 (DIR-24-8 only).
    public init(capacity: Int = 1024, algorithm: FIBAlgorithm = .default,
                defaultGroupCapacity: Int = FIBTable.defaultGroupCapacity) throws {
        precondition(capacity >= 1)
        self.capacity = capacity
        self.algorithm = algorithm
        tables = Array(repeating: nil, count: capacity)
        views = .allocate(capacity: capacity)
        views.initialize(repeating: try emptyView(), count: capacity)
        try create(0, groupCapacity: defaultGroupCapacity)
    }

    deinit {
        views.deinitialize(count: capacity)
        views.deallocate()
    }

    /// Creates table `index` (a new VRF). `groupCapacity` and `hugePages` are
    /// DIR-24-8's (DXR tables take what they need from their pools).
    @discardableResult
    public func create(_ index: Int, groupCapacity: Int = FIBTable.defaultGroupCapacity,
                       hugePages: Bool = false) throws -> any ForwardingTable {
        guard (0..<capacity).contains(index), tables[index] == nil else { throw FIBError.invalidTableIndex(index) }
        let t: any ForwardingTable
        switch algorithm {
        case .dxr: t = try FIBRangeTable(poolWords: FIB.dxrPoolWords)
        case .dir248: t = try FIBTable(groupCapacity: groupCapacity, hugePages: hugePages)
        }
        tables[index] = t
        views[index] = t.view
        return t
    }

    /// Destroys table `index` (not 0); its memory goes back to the kernel.
    public func destroy(_ index: Int) throws {
        guard index != 0, (0..<capacity).contains(index), tables[index] != nil else { throw FIBError.noSuchTable(index) }
        views[index] = try emptyView()
        tables[index] = nil
    }

    /// Table `index`, or nil.
    public func table(_ index: Int) -> (any ForwardingTable)? {
        (0..<capacity).contains(index) ? tables[index] : nil
    }

    /// Indexes that hold a table, ascending.
    public var tableIndexes: [Int] { tables.indices.filter { tables[$0] != nil } }

    /// Scalar lookup in table `index` (must be < capacity).
    @inlinable @inline(__always)
    public func lookup(table index: Int, _ address: UInt32) -> UInt32 { views[index].lookup(address) }

    // One read-only all-zero table per structure, shared by every missing
    // table index: reading it maps only the kernel's zero page, and every
    // lookup in it misses.
    private static let emptyDIR248: Result<FIBView, FIBError> = Result {
        let m24 = try ZeroMapping(bytes: FIBTable.tbl24Count * 4, writable: false)
        let m8 = try ZeroMapping(bytes: 256 * 4, writable: false)
        return .dir248(FIBLookup(tbl24: UnsafePointer(m24.base.assumingMemoryBound(to: UInt32.self)),
                                 tbl8: UnsafePointer(m8.base.assumingMemoryBound(to: UInt32.self))))
    }.mapError { $0 as? FIBError ?? .outOfMemory(bytes: FIBTable.tbl24Count * 4) }

    private static let emptyDXR: Result<FIBView, FIBError> = Result {
        let bits = FIBRangeTable.defaultDirectBits
        let direct = try ZeroMapping(bytes: (1 << bits) * 4, writable: false)
        return .dxr(FIBRangeLookup(direct: UnsafePointer(direct.base.assumingMemoryBound(to: UInt32.self)),
                                   ranges: UnsafeRawPointer(direct.base), directBits: bits))
    }.mapError { $0 as? FIBError ?? .outOfMemory(bytes: (1 << FIBRangeTable.defaultDirectBits) * 4) }

    private func emptyView() throws -> FIBView {
        switch algorithm {
        case .dxr: return try FIB.emptyDXR.get()
        case .dir248: return try FIB.emptyDIR248.get()
        }
    }
}
