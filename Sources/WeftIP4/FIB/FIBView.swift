/// What a worker holds for one FIB table: the read side of the table's
/// structure (DIR-24-8 or DXR), two to four words copied into a node's locals
/// once per run of packets. Every table of a dataplane has the same structure
/// (and so does the empty view of an index without a table), so the switch
/// below always goes the same way; in a bulk lookup it costs one predicted
/// compare per call, not per packet (docs/fib.md, "In the dataplane").
@frozen
public enum FIBView {
    case dir248(FIBLookup)
    case dxr(FIBRangeLookup)

    /// Adjacency of the longest prefix matching `address` (host byte order),
    /// or `FIBTable.miss`.
    @inlinable @inline(__always)
    public func lookup(_ address: UInt32) -> UInt32 {
        switch self {
        case .dir248(let v): return v.lookup(address)
        case .dxr(let v): return v.lookup(address)
        }
    }

    /// Looks up `count` addresses (host byte order) into `results`.
    @inlinable @inline(__always)
    public func lookup(_ addresses: UnsafePointer<UInt32>, into results: UnsafeMutablePointer<UInt32>, count: Int) {
        switch self {
        case .dir248(let v): v.lookup(addresses, into: results, count: count)
        case .dxr(let v): v.lookup(addresses, into: results, count: count)
        }
    }
}
