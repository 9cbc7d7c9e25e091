import XCTest
@testable import WeftIP4

/// `FIB` with each structure: the workers' views (bulk and scalar) agree with
/// the prefix store on random routes in several VRFs, missing tables miss,
/// and a destroyed table's index misses again.
final class FIBAlgorithmTests: XCTestCase {
    func testViewsOfEveryAlgorithmMatchTheReference() throws {
        for algorithm in FIBAlgorithm.allCases {
            let fib = try FIB(capacity: 8, algorithm: algorithm, defaultGroupCapacity: 4096)
            XCTAssertEqual(fib.algorithm, algorithm)
            var rng = SplitMix64(seed: 7)
            for index in [0, 3] {
                let t = try fib.table(index) ?? fib.create(index)
                XCTAssertEqual(t.algorithm, algorithm)
                for _ in 0..<5000 {
                    let l = [8, 16, 20, 24, 24, 24, 28, 32][Int(rng.next() % 8)]
                    try t.add(UInt32(truncatingIfNeeded: rng.next()), length: l, adjacency: UInt32(rng.next() % 100_000))
                }
                t.compactAfterBulkLoad()
            }
            let addrs = (0..<20_000).map { _ in UInt32(truncatingIfNeeded: rng.next()) }
            var results = [UInt32](repeating: 0, count: addrs.count)
            for index in 0..<8 {
                addrs.withUnsafeBufferPointer { a in
                    results.withUnsafeMutableBufferPointer { r in
                        fib.views[index].lookup(a.baseAddress!, into: r.baseAddress!, count: a.count)
                    }
                }
                for (i, a) in addrs.enumerated() {
                    let want = fib.table(index)?.referenceLookup(a) ?? FIBTable.miss
                    if results[i] != want || fib.lookup(table: index, a) != want {
                        XCTFail("\(algorithm) table \(index) \(IPv4Prefix.format(a)): bulk \(results[i]) scalar \(fib.lookup(table: index, a)) want \(want)")
                        break
                    }
                }
            }
            XCTAssertTrue(fib.tableIndexes == [0, 3])
            try fib.destroy(3)
            XCTAssertNil(fib.table(3))
            XCTAssertTrue(addrs.allSatisfy { fib.lookup(table: 3, $0) == FIBTable.miss }, "\(algorithm): a destroyed table misses")
        }
    }

    func testLongestMatchAndExactQueriesAgree() throws {
        for algorithm in FIBAlgorithm.allCases {
            let fib = try FIB(capacity: 1, algorithm: algorithm, defaultGroupCapacity: 64)
            let t = try XCTUnwrap(fib.table(0))
            try t.add(IPv4Prefix("10.0.0.0/8")!, adjacency: 1)
            try t.add(IPv4Prefix("10.1.0.0/16")!, adjacency: 2)
            try t.add(IPv4Prefix("10.1.2.3/32")!, adjacency: 3)
            XCTAssertEqual(t.longestMatch(IPv4Prefix("10.1.2.3/32")!.address)?.prefix.description, "10.1.2.3/32")
            XCTAssertEqual(t.longestMatch(IPv4Prefix("10.1.9.9/32")!.address)?.prefix.description, "10.1.0.0/16")
            XCTAssertEqual(t.adjacency(of: IPv4Prefix("10.1.0.0/16")!.address, length: 16), 2)
            XCTAssertTrue(t.delete(IPv4Prefix("10.1.0.0/16")!))
            XCTAssertEqual(fib.lookup(table: 0, IPv4Prefix("10.1.9.9/32")!.address), 1, "\(algorithm): falls back to the /8")
            XCTAssertEqual(t.routes().map(\.prefix.description), ["10.0.0.0/8", "10.1.2.3/32"])
        }
    }
}
