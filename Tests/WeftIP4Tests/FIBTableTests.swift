import XCTest
@testable import WeftIP4

/// Deterministic generator so a failure can be replayed.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// The reference: every prefix in a dictionary per length, longest match by
/// probing lengths 32...0. Independent of the FIB's own prefix store.
struct ReferenceLPM {
    var byLength: [[UInt32: UInt32]] = Array(repeating: [:], count: 33)
    var count: Int { byLength.reduce(0) { $0 + $1.count } }

    mutating func add(_ a: UInt32, _ l: Int, _ adj: UInt32) { byLength[l][a & IPv4Prefix.mask(l)] = adj }
    mutating func delete(_ a: UInt32, _ l: Int) { byLength[l][a & IPv4Prefix.mask(l)] = nil }
    func lookup(_ a: UInt32) -> UInt32 {
        for l in stride(from: 32, through: 0, by: -1) {
            if let adj = byLength[l][a & IPv4Prefix.mask(l)] { return adj }
        }
        return FIBTable.miss
    }
    var prefixes: [(UInt32, Int, UInt32)] {
        var out: [(UInt32, Int, UInt32)] = []
        for l in 0...32 { for (p, a) in byLength[l] { out.append((p, l, a)) } }
        return out
    }
}

/// The naive oracle: linear scan of the prefix list, longest match wins.
func linearScan(_ list: [(UInt32, Int, UInt32)], _ a: UInt32) -> UInt32 {
    var best = -1, adj = FIBTable.miss
    for (p, l, x) in list where l > best && a & IPv4Prefix.mask(l) == p {
        best = l; adj = x
    }
    return adj
}

final class FIBTableTests: XCTestCase {
    // MARK: helpers

    /// Checks scalar == reference for every address, and bulk == scalar in
    /// vectors of 256 plus a ragged tail.
    func check(_ t: FIBTable, _ ref: ReferenceLPM, _ addrs: [UInt32], file: StaticString = #filePath, line: UInt = #line) {
        var bulk = [UInt32](repeating: 0, count: addrs.count)
        addrs.withUnsafeBufferPointer { a in
            bulk.withUnsafeMutableBufferPointer { r in
                var i = 0
                while i < a.count {
                    let n = min(256, a.count - i)
                    t.lookup(a.baseAddress! + i, into: r.baseAddress! + i, count: n)
                    i += n
                }
            }
        }
        var mismatches = 0
        for (i, a) in addrs.enumerated() {
            let scalar = t.lookup(a)
            let expected = ref.lookup(a)
            if scalar != expected || bulk[i] != scalar {
                mismatches += 1
                if mismatches <= 5 {
                    XCTFail("\(IPv4Prefix.format(a)): scalar \(scalar) bulk \(bulk[i]) reference \(expected)", file: file, line: line)
                }
            }
        }
        XCTAssertEqual(mismatches, 0, "mismatches", file: file, line: line)
    }

    static func randomLength(_ rng: inout SplitMix64) -> Int {
        switch rng.next() % 10 {
        case 0, 1: return 16
        case 2, 3, 4, 5: return 24
        case 6, 7: return 32
        default: return 8 + Int(rng.next() % 25)     // 8...32
        }
    }

    /// Half the addresses fall inside random prefixes of `list` (hits at every
    /// length), half are uniform random.
    static func addresses(_ n: Int, inside list: [(UInt32, Int, UInt32)], _ rng: inout SplitMix64) -> [UInt32] {
        (0..<n).map { i in
            let r = UInt32(truncatingIfNeeded: rng.next())
            if i % 2 == 0 || list.isEmpty { return r }
            let (p, l, _) = list[Int(rng.next() % UInt64(list.count))]
            return p | (r & ~IPv4Prefix.mask(l))
        }
    }

    // MARK: tests

    func testDifferentialRandomPrefixesWithInterleavedDeletes() throws {
        var rng = SplitMix64(seed: 0x5EED_F1B)
        let t = try FIBTable()
        var ref = ReferenceLPM()
        var added: [(UInt32, Int, UInt32)] = []
        for _ in 0..<100_000 {
            let l = Self.randomLength(&rng)
            let a = UInt32(truncatingIfNeeded: rng.next()) & IPv4Prefix.mask(l)
            let adj = UInt32(rng.next() % (1 << 20))
            try t.add(a, length: l, adjacency: adj)
            ref.add(a, l, adj)
            added.append((a, l, adj))
        }
        XCTAssertEqual(t.count, ref.count)
        let lookups = Self.addresses(1_000_000, inside: added, &rng)
        check(t, ref, lookups)

        // The naive linear scan agrees with the reference on a sample (and so
        // does the table, by the check above).
        let list = ref.prefixes
        for a in lookups.prefix(1500) {
            XCTAssertEqual(linearScan(list, a), ref.lookup(a), IPv4Prefix.format(a))
        }

        // Rounds of random deletes (some of prefixes never added) and re-adds, re-checked each time.
        for round in 0..<6 {
            var current = ref.prefixes
            current.shuffle(using: &rng)
            for (p, l, _) in current.prefix(8_000) {
                XCTAssertTrue(t.delete(p, length: l))
                ref.delete(p, l)
            }
            for _ in 0..<500 {
                let l = Self.randomLength(&rng)
                let a = UInt32(truncatingIfNeeded: rng.next()) & IPv4Prefix.mask(l)
                let present = t.adjacency(of: a, length: l) != nil
                XCTAssertEqual(t.delete(a, length: l), present)
                ref.delete(a, l)
            }
            for _ in 0..<3_000 {
                let l = Self.randomLength(&rng)
                let a = UInt32(truncatingIfNeeded: rng.next()) & IPv4Prefix.mask(l)
                let adj = UInt32(rng.next() % (1 << 20))
                try t.add(a, length: l, adjacency: adj)
                ref.add(a, l, adj)
            }
            XCTAssertEqual(t.count, ref.count, "round \(round)")
            let sample = round == 5 ? lookups : Array(lookups[(round * 150_000)..<(round * 150_000 + 150_000)])
            check(t, ref, sample)
            // Addresses inside the prefixes that are left, too.
            check(t, ref, Self.addresses(50_000, inside: ref.prefixes, &rng))
        }

        // Everything out: all misses and no group left behind.
        for (p, l, _) in ref.prefixes { XCTAssertTrue(t.delete(p, length: l)) }
        XCTAssertEqual(t.count, 0)
        XCTAssertEqual(t.groupsInUse, 0)
        check(t, ReferenceLPM(), Array(lookups.prefix(100_000)))
    }

    /// One million prefixes (dpdk-test-fib's 16/24/32 mix plus a spread of
    /// other lengths), checked against the reference on 300k addresses, then
    /// half of them deleted and checked again.
    func testMillionRoutes() throws {
        var rng = SplitMix64(seed: 1_000_000)
        let t = try FIBTable(groupCapacity: 1 << 18)
        var ref = ReferenceLPM()
        var list: [(UInt32, Int, UInt32)] = []
        list.reserveCapacity(1_000_000)
        while t.count < 1_000_000 {
            let r = rng.next() % 100
            let l = r < 10 ? 16 : r < 80 ? 24 : r < 90 ? 32 : 8 + Int(rng.next() % 25)
            let a = UInt32(truncatingIfNeeded: rng.next()) & IPv4Prefix.mask(l)
            let adj = UInt32(rng.next() % (1 << 21))
            try t.add(a, length: l, adjacency: adj)
            ref.add(a, l, adj)
            list.append((a, l, adj))
        }
        XCTAssertEqual(ref.count, 1_000_000)
        check(t, ref, Self.addresses(300_000, inside: list, &rng))
        list.shuffle(using: &rng)
        for (a, l, _) in list.prefix(500_000) {
            t.delete(a, length: l)
            ref.delete(a, l)
        }
        XCTAssertEqual(t.count, ref.count)
        check(t, ref, Self.addresses(300_000, inside: list, &rng))
    }

    /// /0 .. /32 of one address, added shortest first, then removed longest
    /// first: every step falls back to the next shorter prefix, for the address
    /// itself and for addresses leaving the chain at every bit.
    func testNestedChainAddedThenRemovedInReverse() throws {
        let a: UInt32 = 0xC0A8_0A37   // 192.168.10.55
        let t = try FIBTable()
        /// Address sharing exactly the first `k` bits with `a` (bit k flipped), k in 0..<32.
        func leaving(at k: Int) -> UInt32 { a ^ (UInt32(1) << UInt32(31 - k)) }
        func expectChain(longest: Int) {
            let want = longest < 0 ? FIBTable.miss : UInt32(100 + longest)
            XCTAssertEqual(t.lookup(a), want, "address itself, longest /\(longest)")
            for k in 0..<32 {
                let m = min(k, longest)
                XCTAssertEqual(t.lookup(leaving(at: k)), m < 0 ? FIBTable.miss : UInt32(100 + m), "leaves at bit \(k), longest /\(longest)")
            }
        }
        expectChain(longest: -1)
        for l in 0...32 {
            try t.add(a, length: l, adjacency: UInt32(100 + l))
            expectChain(longest: l)
        }
        XCTAssertEqual(t.count, 33)
        XCTAssertEqual(t.groupsInUse, 1)
        for l in stride(from: 32, through: 0, by: -1) {
            XCTAssertTrue(t.delete(a, length: l))
            expectChain(longest: l - 1)
        }
        XCTAssertEqual(t.count, 0)
        XCTAssertEqual(t.groupsInUse, 0)

        // The same chain added longest first and removed in random order.
        var rng = SplitMix64(seed: 33)
        var ref = ReferenceLPM()
        for l in stride(from: 32, through: 0, by: -1) {
            try t.add(a, length: l, adjacency: UInt32(100 + l)); ref.add(a, l, UInt32(100 + l))
        }
        let probes = [a] + (0..<32).map(leaving(at:))
        check(t, ref, probes)
        for l in (0...32).shuffled(using: &rng) {
            XCTAssertTrue(t.delete(a, length: l)); ref.delete(a, l)
            check(t, ref, probes)
        }
        XCTAssertEqual(t.groupsInUse, 0)
    }

    func testReplaceChangesAdjacencyOnly() throws {
        let t = try FIBTable()
        let net = IPv4Prefix("10.1.0.0/16")!
        try t.add(net, adjacency: 1)
        try t.add(IPv4Prefix("10.1.2.0/24")!, adjacency: 2)
        try t.add(IPv4Prefix("10.1.2.128/25")!, adjacency: 3)
        try t.add(IPv4Prefix("10.1.2.129/32")!, adjacency: 4)
        XCTAssertEqual(t.count, 4)
        let probe = IPv4Prefix.parseAddress("10.1.9.9")!
        XCTAssertEqual(t.lookup(probe), 1)

        try t.add(net, adjacency: 11)                                   // replace the /16
        XCTAssertEqual(t.lookup(probe), 11)
        XCTAssertEqual(t.lookup(IPv4Prefix.parseAddress("10.1.2.1")!), 2, "the /24 inside keeps its own")
        try t.add(IPv4Prefix("10.1.2.0/24")!, adjacency: 12)           // replace the /24 holding a group
        XCTAssertEqual(t.lookup(IPv4Prefix.parseAddress("10.1.2.1")!), 12)
        XCTAssertEqual(t.lookup(IPv4Prefix.parseAddress("10.1.2.130")!), 3)
        try t.add(IPv4Prefix("10.1.2.129/32")!, adjacency: 14)         // replace a /32
        XCTAssertEqual(t.lookup(IPv4Prefix.parseAddress("10.1.2.129")!), 14)
        XCTAssertEqual(t.count, 4)
        XCTAssertEqual(t.groupsInUse, 1)
        XCTAssertEqual(t.adjacency(of: net.address, length: 16), 11)

        // Deleting the replaced /32 falls back to the /25, not to the old adjacency.
        XCTAssertTrue(t.delete(IPv4Prefix("10.1.2.129/32")!))
        XCTAssertEqual(t.lookup(IPv4Prefix.parseAddress("10.1.2.129")!), 3)
        XCTAssertTrue(t.delete(IPv4Prefix("10.1.2.128/25")!))
        XCTAssertEqual(t.lookup(IPv4Prefix.parseAddress("10.1.2.129")!), 12)
        XCTAssertEqual(t.groupsInUse, 0, "group folded back into the first level")
        XCTAssertTrue(t.delete(IPv4Prefix("10.1.2.0/24")!))
        XCTAssertEqual(t.lookup(IPv4Prefix.parseAddress("10.1.2.129")!), 11)
    }

    func testDefaultRouteHostBitsAndErrors() throws {
        let t = try FIBTable()
        XCTAssertEqual(t.lookup(0), FIBTable.miss)
        XCTAssertEqual(t.lookup(.max), FIBTable.miss)
        try t.add(0xDEAD_BEEF, length: 0, adjacency: 7)                  // host bits ignored
        XCTAssertEqual(t.lookup(0), 7)
        XCTAssertEqual(t.lookup(.max), 7)
        try t.add(IPv4Prefix.parseAddress("255.255.255.255")!, length: 32, adjacency: 0)
        XCTAssertEqual(t.lookup(.max), 0, "adjacency 0 is a valid adjacency")
        try t.add(0, length: 32, adjacency: FIBTable.maxAdjacency)
        XCTAssertEqual(t.lookup(0), FIBTable.maxAdjacency)
        XCTAssertEqual(t.lookup(1), 7)

        XCTAssertThrowsError(try t.add(0, length: 33, adjacency: 1)) { XCTAssertEqual($0 as? FIBError, .invalidPrefixLength(33)) }
        XCTAssertThrowsError(try t.add(0, length: -1, adjacency: 1)) { XCTAssertEqual($0 as? FIBError, .invalidPrefixLength(-1)) }
        XCTAssertThrowsError(try t.add(0, length: 8, adjacency: FIBTable.maxAdjacency + 1)) {
            XCTAssertEqual($0 as? FIBError, .adjacencyOutOfRange(FIBTable.maxAdjacency + 1))
        }
        XCTAssertFalse(t.delete(0x0A00_0000, length: 8), "never added")
        XCTAssertFalse(t.delete(0, length: 40))
        XCTAssertEqual(t.count, 3)
        XCTAssertTrue(t.delete(0, length: 0))
        XCTAssertEqual(t.lookup(1), FIBTable.miss)
        XCTAssertEqual(t.lookup(0), FIBTable.maxAdjacency)

        XCTAssertEqual(IPv4Prefix("10.1.2.3/8")?.description, "10.0.0.0/8")
        XCTAssertNil(IPv4Prefix("10.1.2/8"))
        XCTAssertNil(IPv4Prefix("10.1.2.256/8"))
        XCTAssertNil(IPv4Prefix("10.1.2.3/33"))
        XCTAssertEqual(t.routes().map(\.prefix.description), ["0.0.0.0/32", "255.255.255.255/32"])
    }

    func testTwoTablesAreIndependent() throws {
        let fib = try FIB(capacity: 16, algorithm: .dir248, defaultGroupCapacity: 64)
        let vrf = try XCTUnwrap(fib.create(3, groupCapacity: 64) as? FIBTable)
        let t0 = try XCTUnwrap(fib.table(0) as? FIBTable)
        let a = IPv4Prefix.parseAddress("10.0.0.1")!
        try t0.add(IPv4Prefix("10.0.0.0/8")!, adjacency: 1)
        try vrf.add(IPv4Prefix("10.0.0.0/24")!, adjacency: 2)
        try vrf.add(IPv4Prefix("10.0.0.1/32")!, adjacency: 3)
        XCTAssertEqual(fib.lookup(table: 0, a), 1)
        XCTAssertEqual(fib.lookup(table: 3, a), 3)
        XCTAssertEqual(fib.lookup(table: 3, a + 1), 2)
        XCTAssertEqual(fib.lookup(table: 3, IPv4Prefix.parseAddress("10.9.9.9")!), FIBTable.miss)
        XCTAssertEqual(fib.lookup(table: 5, a), FIBTable.miss, "no table 5: the empty view misses")
        XCTAssertEqual(t0.groupsInUse, 0)
        XCTAssertEqual(vrf.groupsInUse, 1)
        XCTAssertTrue(t0.delete(IPv4Prefix("10.0.0.0/8")!))
        XCTAssertEqual(fib.lookup(table: 0, a), FIBTable.miss)
        XCTAssertEqual(fib.lookup(table: 3, a), 3, "deleting in table 0 leaves table 3 alone")

        var v = [UInt32](repeating: 0, count: 3)
        [a, a + 1, 0].withUnsafeBufferPointer { fib.views[3].lookup($0.baseAddress!, into: &v, count: 3) }
        XCTAssertEqual(v, [3, 2, FIBTable.miss])

        XCTAssertEqual(fib.tableIndexes, [0, 3])
        XCTAssertThrowsError(try fib.create(3)) { XCTAssertEqual($0 as? FIBError, .invalidTableIndex(3)) }
        XCTAssertThrowsError(try fib.create(16)) { XCTAssertEqual($0 as? FIBError, .invalidTableIndex(16)) }
        XCTAssertThrowsError(try fib.destroy(0)) { XCTAssertEqual($0 as? FIBError, .noSuchTable(0)) }
        try fib.destroy(3)
        XCTAssertNil(fib.table(3))
        XCTAssertEqual(fib.lookup(table: 3, a), FIBTable.miss)
        XCTAssertEqual(vrf.lookup(a), 3, "a table outlives its removal from the FIB while referenced")
    }

    func testGroupExhaustionIsReportedAndCounted() throws {
        let t = try FIBTable(groupCapacity: 2)
        try t.add(IPv4Prefix("10.0.1.0/25")!, adjacency: 1)
        try t.add(IPv4Prefix("10.0.1.128/25")!, adjacency: 2)     // same /24, same group
        try t.add(IPv4Prefix("10.0.2.7/32")!, adjacency: 3)
        XCTAssertEqual(t.groupsInUse, 2)
        try t.add(IPv4Prefix("10.0.0.0/16")!, adjacency: 9)        // no group needed
        XCTAssertThrowsError(try t.add(IPv4Prefix("10.0.3.7/32")!, adjacency: 4)) {
            XCTAssertEqual($0 as? FIBError, .groupsExhausted(capacity: 2))
        }
        XCTAssertEqual(t.groupExhaustions, 1)
        XCTAssertEqual(t.count, 4, "refused prefix not recorded")
        XCTAssertNil(t.adjacency(of: IPv4Prefix.parseAddress("10.0.3.7")!, length: 32))
        XCTAssertEqual(t.lookup(IPv4Prefix.parseAddress("10.0.3.7")!), 9, "table unchanged")
        try t.add(IPv4Prefix("10.0.2.8/32")!, adjacency: 5)          // existing group still takes more
        XCTAssertThrowsError(try t.add(IPv4Prefix("10.0.4.0/30")!, adjacency: 6))
        XCTAssertEqual(t.groupExhaustions, 2)

        // Freeing a /24's last long prefix returns its group.
        XCTAssertTrue(t.delete(IPv4Prefix("10.0.2.7/32")!))
        XCTAssertEqual(t.groupsInUse, 2)
        XCTAssertTrue(t.delete(IPv4Prefix("10.0.2.8/32")!))
        XCTAssertEqual(t.groupsInUse, 1)
        XCTAssertEqual(t.lookup(IPv4Prefix.parseAddress("10.0.2.8")!), 9)
        try t.add(IPv4Prefix("10.0.3.7/32")!, adjacency: 4)
        XCTAssertEqual(t.lookup(IPv4Prefix.parseAddress("10.0.3.7")!), 4)
        XCTAssertEqual(t.lookup(IPv4Prefix.parseAddress("10.0.3.6")!), 9)
        XCTAssertEqual(t.groupsInUse, 2)

        XCTAssertThrowsError(try FIBTable(groupCapacity: 0)) { XCTAssertEqual($0 as? FIBError, .invalidGroupCapacity(0)) }
    }

    /// Vector sizes around the unroll and prefetch boundaries.
    func testBulkLookupAllVectorSizes() throws {
        var rng = SplitMix64(seed: 7)
        let t = try FIBTable()
        var ref = ReferenceLPM()
        var list: [(UInt32, Int, UInt32)] = []
        for _ in 0..<2000 {
            let l = Self.randomLength(&rng)
            let a = UInt32(truncatingIfNeeded: rng.next()) & IPv4Prefix.mask(l)
            try t.add(a, length: l, adjacency: UInt32(list.count)); ref.add(a, l, UInt32(list.count))
            list.append((a, l, UInt32(list.count)))
        }
        let addrs = Self.addresses(600, inside: list, &rng)
        for n in [0, 1, 2, 3, 4, 5, 7, 15, 16, 17, 19, 20, 21, 23, 255, 256, 257, 600] {
            var out = [UInt32](repeating: 0xAAAA_AAAA, count: n + 1)
            addrs.withUnsafeBufferPointer { t.lookup($0.baseAddress!, into: &out, count: n) }
            for i in 0..<n { XCTAssertEqual(out[i], ref.lookup(addrs[i]), "n=\(n) i=\(i)") }
            XCTAssertEqual(out[n], 0xAAAA_AAAA, "n=\(n): wrote past the end")
        }
    }

    /// An empty table touches (almost) no memory; removeAll gives it back.
    func testEmptyTableIsCheapAndRemoveAllReleases() throws {
        let t = try FIBTable()
        XCTAssertEqual(t.lookup(0x0102_0304), FIBTable.miss)
        XCTAssertLessThanOrEqual(t.residentBytes().lookup, 64 * 1024)
        try t.add(IPv4Prefix("0.0.0.0/0")!, adjacency: 1)
        XCTAssertGreaterThanOrEqual(t.residentBytes().lookup, 64 << 20, "a default route writes the whole first level")
        try t.add(IPv4Prefix("1.2.3.4/32")!, adjacency: 2)
        t.removeAll()
        XCTAssertEqual(t.count, 0)
        XCTAssertEqual(t.groupsInUse, 0)
        XCTAssertLessThanOrEqual(t.residentBytes().lookup, 64 * 1024)
        XCTAssertEqual(t.lookup(0x0102_0304), FIBTable.miss)
        try t.add(IPv4Prefix("1.2.3.4/32")!, adjacency: 3)
        XCTAssertEqual(t.lookup(0x0102_0304), 3)
        XCTAssertEqual(t.lookup(0x0102_0305), FIBTable.miss)
    }
}
