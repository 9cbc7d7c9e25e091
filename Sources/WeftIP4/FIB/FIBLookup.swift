import CShims

/// The read side of one FIB table: two raw pointers, copied into a node's
/// locals once per vector. Lookups touch nothing else: no class, no retain,
/// no allocation, no Array.
///
/// Entry encoding (both levels, `UInt32`):
/// - `0`: no route (so untouched, never-written pages of the mapping read as misses);
/// - `1...0x7FFF_FFFF`: adjacency + 1;
/// - first level only, bit 31 set: the low 31 bits name a 256-entry second-level
///   group, indexed by the address's last octet.
///
/// A lookup is `tbl24[a >> 8]`, plus `tbl8[group << 8 | a & 0xFF]` for the /24s that
/// hold a prefix longer than /24; the result is the entry minus one, so "no route"
/// comes out as `FIBTable.miss` (`UInt32.max`) without a branch.
@frozen
public struct FIBLookup {
    public let tbl24: UnsafePointer<UInt32>
    public let tbl8: UnsafePointer<UInt32>

    @usableFromInline static let groupFlag: UInt32 = 0x8000_0000

    @inlinable @inline(__always)
    public init(tbl24: UnsafePointer<UInt32>, tbl8: UnsafePointer<UInt32>) {
        self.tbl24 = tbl24
        self.tbl8 = tbl8
    }

    /// Adjacency of the longest prefix matching `address` (host byte order), or
    /// `FIBTable.miss`. The scalar path, and the oracle the bulk lookup is tested against.
    @inlinable @inline(__always)
    public func lookup(_ address: UInt32) -> UInt32 {
        var e = tbl24[Int(truncatingIfNeeded: address &>> 8)]
        if _slowPath(e & FIBLookup.groupFlag != 0) {
            e = tbl8[Int(truncatingIfNeeded: e & ~FIBLookup.groupFlag) &<< 8 | Int(truncatingIfNeeded: address & 0xFF)]
        }
        return e &- 1
    }

    /// How far ahead (in addresses) the bulk lookup prefetches first-level entries.
    public static let prefetchDistance = 16

    /// Looks up `count` addresses (host byte order) and writes one adjacency (or
    /// `FIBTable.miss`) per address into `results`. Unrolled by four, prefetching
    /// the first-level entries `prefetchDistance` addresses ahead.
    @inlinable @inline(__always)
    public func lookup(_ addresses: UnsafePointer<UInt32>, into results: UnsafeMutablePointer<UInt32>, count: Int) {
        let d = FIBLookup.prefetchDistance
        var i = 0
        let warm = count < d ? count : d
        while i < warm {
            weft_prefetch(tbl24 + Int(truncatingIfNeeded: addresses[i] &>> 8))
            i &+= 1
        }
        i = 0
        while i &+ d &+ 4 <= count {
            weft_prefetch(tbl24 + Int(truncatingIfNeeded: addresses[i &+ d] &>> 8))
            weft_prefetch(tbl24 + Int(truncatingIfNeeded: addresses[i &+ d &+ 1] &>> 8))
            weft_prefetch(tbl24 + Int(truncatingIfNeeded: addresses[i &+ d &+ 2] &>> 8))
            weft_prefetch(tbl24 + Int(truncatingIfNeeded: addresses[i &+ d &+ 3] &>> 8))
            results[i] = lookup(addresses[i])
            results[i &+ 1] = lookup(addresses[i &+ 1])
            results[i &+ 2] = lookup(addresses[i &+ 2])
            results[i &+ 3] = lookup(addresses[i &+ 3])
            i &+= 4
        }
        while i < count {
            results[i] = lookup(addresses[i])
            i &+= 1
        }
    }
}
