import XCTest
@testable import WeftL2

final class MacTableTests: XCTestCase {
    private func makeTable(capacity: Int = 1024, limit: UInt32 = 100_000, age: UInt32 = 300) -> (MacTable, BridgeDomainTable) {
        let domains = BridgeDomainTable()
        domains.create(id: 1, learnLimit: limit, macAgeSeconds: age)
        domains.create(id: 2, learnLimit: limit, macAgeSeconds: age)
        return (MacTable(capacity: capacity, domains: domains), domains)
    }

    func testLearnLookupAndMove() {
        let (t, d) = makeTable()
        XCTAssertEqual(t.learn(domain: 1, mac: 0xAA, interface: 3, now: 10), .learned)
        XCTAssertEqual(t.learn(domain: 1, mac: 0xAA, interface: 3, now: 11), .refreshed)
        XCTAssertEqual(t.lookup(domain: 1, mac: 0xAA), 3)
        XCTAssertNil(t.lookup(domain: 2, mac: 0xAA), "domains are separate")
        XCTAssertEqual(t.learn(domain: 1, mac: 0xAA, interface: 4, now: 12), .moved)
        XCTAssertEqual(t.lookup(domain: 1, mac: 0xAA), 4)
        XCTAssertEqual(d.learned[1], 1)
    }

    func testLearnLimitPerDomain() {
        let (t, d) = makeTable(limit: 3)
        for mac in 1...5 as ClosedRange<UInt64> { _ = t.learn(domain: 1, mac: mac, interface: 1, now: 0) }
        XCTAssertEqual(d.learned[1], 3)
        XCTAssertEqual(t.learn(domain: 1, mac: 99, interface: 1, now: 0), .limitReached)
        XCTAssertEqual(t.learn(domain: 2, mac: 99, interface: 1, now: 0), .learned, "other domain unaffected")
        XCTAssertEqual(t.learn(domain: 1, mac: 2, interface: 7, now: 0), .moved, "known MACs still move at the limit")
    }

    func testAgeingRemovesOnlyStaleEntries() {
        let (t, d) = makeTable(age: 5)
        _ = t.learn(domain: 1, mac: 1, interface: 1, now: 100)
        _ = t.learn(domain: 1, mac: 2, interface: 1, now: 103)
        XCTAssertEqual(t.age(now: 104, budget: t.capacity), 0)
        XCTAssertEqual(t.age(now: 105, budget: t.capacity), 1)
        XCTAssertNil(t.lookup(domain: 1, mac: 1))
        XCTAssertEqual(t.lookup(domain: 1, mac: 2), 1)
        XCTAssertEqual(d.learned[1], 1)
        XCTAssertEqual(t.age(now: 200, budget: t.capacity), 1)
        XCTAssertEqual(t.count, 0)
    }

    func testTableFullIsRefusedNotCrashed() {
        let (t, _) = makeTable(capacity: 16)
        var results: [MacTable.LearnResult] = []
        for mac in 1...20 as ClosedRange<UInt64> { results.append(t.learn(domain: 1, mac: mac, interface: 1, now: 0)) }
        XCTAssertEqual(results.filter { $0 == .learned }.count, 14)
        XCTAssertEqual(results.filter { $0 == .tableFull }.count, 6)
    }

    /// Random learn/remove/age against a dictionary: backward-shift deletion
    /// must never lose or resurrect an entry.
    func testRandomOperationsMatchReference() {
        let (t, _) = makeTable(capacity: 4096, age: 50)
        var reference: [UInt64: (UInt32, UInt32)] = [:]   // key -> (interface, lastSeen)
        var rng = SystemRandomNumberGenerator()
        var now: UInt32 = 1000
        for step in 0..<60_000 {
            let mac = UInt64.random(in: 1...3000, using: &rng)
            let domain = UInt32.random(in: 1...2, using: &rng)
            let key = MacTable.key(domain: domain, mac: mac)
            switch Int.random(in: 0..<10, using: &rng) {
            case 0..<6:
                let iface = UInt32.random(in: 1...8, using: &rng)
                let r = t.learn(domain: domain, mac: mac, interface: iface, now: now)
                if r == .learned || r == .moved || r == .refreshed { reference[key] = (iface, now) }
            case 6..<8:
                let removed = t.remove(domain: domain, mac: mac)
                XCTAssertEqual(removed, reference.removeValue(forKey: key) != nil)
            default:
                now += 1
                // A removal uses up a slot of the budget (MacTable.age), so a budget of one
                // capacity may stop a few slots short of a full sweep and leave an expired
                // entry for the next call: the reference below expects a full sweep.
                _ = t.age(now: now, budget: 2 * t.capacity)
                reference = reference.filter { now - $0.value.1 < 50 }
            }
            if step % 5000 == 0 || step == 59_999 {
                XCTAssertEqual(t.count, reference.count, "step \(step)")
                for (k, v) in reference {
                    XCTAssertEqual(t.lookup(domain: UInt32(k >> 48), mac: k & 0xFFFF_FFFF_FFFF), v.0)
                }
            }
        }
    }

    func testFlushInterface() {
        let (t, d) = makeTable()
        for mac in 1...50 as ClosedRange<UInt64> { _ = t.learn(domain: 1, mac: mac, interface: mac % 2 == 0 ? 2 : 3, now: 0) }
        t.flush(interface: 2)
        XCTAssertEqual(t.count, 25)
        XCTAssertEqual(d.learned[1], 25)
        XCTAssertTrue((1...50 as ClosedRange<UInt64>).allSatisfy { ($0 % 2 == 0) == (t.lookup(domain: 1, mac: $0) == nil) })
    }

    func testStaticEntriesNeverMoveAgeOrCountAgainstTheLimit() {
        let (t, d) = makeTable(limit: 2, age: 10)
        XCTAssertTrue(t.addStatic(domain: 1, mac: 0xAA, interface: 3))
        XCTAssertEqual(d.learned[1], 0, "static entries are not learned")
        XCTAssertEqual(t.learn(domain: 1, mac: 0xAA, interface: 4, now: 5), .staticEntry)
        XCTAssertEqual(t.lookup(domain: 1, mac: 0xAA), 3)
        XCTAssertEqual(t.learn(domain: 1, mac: 0xAA, interface: 3, now: 6), .refreshed)
        XCTAssertTrue(t.isStatic(domain: 1, mac: 0xAA), "refreshing keeps it static")
        XCTAssertEqual(t.learn(domain: 1, mac: 0xB1, interface: 4, now: 6), .learned)
        XCTAssertEqual(t.learn(domain: 1, mac: 0xB2, interface: 4, now: 6), .learned)
        XCTAssertEqual(t.learn(domain: 1, mac: 0xB3, interface: 4, now: 6), .limitReached)
        XCTAssertEqual(t.age(now: 1000, budget: t.capacity * 2), 2, "learned entries age out")
        XCTAssertEqual(t.lookup(domain: 1, mac: 0xAA), 3, "the static one does not")
        XCTAssertEqual(d.learned[1], 0)
        XCTAssertEqual(t.entries(domain: 1).map { $0.lastSeen }, [MacTable.staticStamp])

        // A learned entry made static stops counting; removeStatic leaves learned ones alone.
        XCTAssertEqual(t.learn(domain: 1, mac: 0xCC, interface: 5, now: 7), .learned)
        XCTAssertEqual(d.learned[1], 1)
        XCTAssertFalse(t.removeStatic(domain: 1, mac: 0xCC))
        XCTAssertTrue(t.addStatic(domain: 1, mac: 0xCC, interface: 6))
        XCTAssertEqual(d.learned[1], 0)
        XCTAssertEqual(t.lookup(domain: 1, mac: 0xCC), 6)
        XCTAssertTrue(t.removeStatic(domain: 1, mac: 0xCC))
        XCTAssertNil(t.lookup(domain: 1, mac: 0xCC))

        // Flushing the interface removes static entries too.
        t.flush(interface: 3)
        XCTAssertEqual(t.count, 0)
        XCTAssertEqual(d.learned[1], 0)
    }
}
