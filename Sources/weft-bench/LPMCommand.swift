import ArgumentParser
import CMallocCounter
import CShims
import Foundation
import Synchronization
import WeftIP4

/// `weft-bench lpm`: builds a `FIBTable` from a route file and times bulk
/// lookups of an address list in vectors, the way `dpdk-test-fib` does, so
/// both can be run on the same files (`benchmarks/lpm.sh`).
///
/// Files (as `dpdk-test-fib -w routes -u ips` writes them): routes are
/// `a.b.c.d/len nexthop` per line, addresses `a.b.c.d` per line. Without
/// files, routes and addresses are generated with dpdk-test-fib's method: for
/// each prefix length, prefixes spread evenly over the address space, and the
/// i-th address lies inside route i mod N (so the list is in ascending order).
struct LPMCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lpm",
        abstract: "Benchmark the IPv4 FIB (DIR-24-8 longest-prefix match): cycles per lookup and build time.")

    enum Order: String, ExpressibleByArgument, CaseIterable { case file, shuffled, both }

    @Option(help: "Route file: 'a.b.c.d/len nexthop' per line (dpdk-test-fib -w).")
    var routes: String?

    @Option(help: "Address file: 'a.b.c.d' per line (dpdk-test-fib -u).")
    var addresses: String?

    @Option(name: .customLong("route-count"), help: "Routes to generate when no --routes file is given.")
    var routeCount = 100_000

    @Option(help: "Addresses to generate when no --addresses file is given.")
    var lookups = 1_000_000

    @Option(help: "Prefix length distribution for generated routes, as dpdk-test-fib -d.")
    var distribution = "16:10%,24:80%,32:10%"

    @Option(help: "Second-level groups (dpdk-test-fib -g).")
    var groups = 100_000

    @Option(help: "Measured runs (each: one pass timed per vector, one pass timed whole); medians are reported.")
    var runs = 5

    @Option(help: "Addresses per bulk lookup call (dpdk-test-fib uses 64).")
    var vector = 256

    @Option(help: "Address order: as in the file/generated (ascending for dpdk-test-fib's files), shuffled, or both.")
    var order: Order = .both

    @Option(help: "Seed for generation and shuffling.")
    var seed: UInt64 = 1

    @Option(help: "Pin the benchmark thread to this CPU (-1: no pinning).")
    var cpu = 1

    @Flag(help: "Back the lookup tables with transparent huge pages (MADV_HUGEPAGE).")
    var hugePages = false

    @Flag(help: """
        Take each address's octets in reverse, as dpdk-test-fib 22.11 does with -t (it stores inet_pton's \
        network-order bytes and looks them up as a host-order word), to look up the very same 32-bit values.
        """)
    var dpdkByteOrder = false

    @Flag(help: "Check every bulk result against the scalar lookup and the prefix-store reference.")
    var verify = false

    @Option(help: "File of expected next hops, one per line in address-file order ('-' = no route), e.g. from rte_fib; compared in --verify.")
    var expect: String?

    @Flag(help: "Print JSON instead of text.")
    var json = false

    func validate() throws {
        guard (1...4096).contains(vector) else { throw ValidationError("--vector must be 1...4096") }
        guard runs >= 1 else { throw ValidationError("--runs must be >= 1") }
        guard routeCount >= 1, lookups >= 1 else { throw ValidationError("--route-count and --lookups must be >= 1") }
        guard (1...FIBTable.maxGroupCapacity).contains(groups) else { throw ValidationError("--groups out of range") }
    }

    struct Route { var address: UInt32; var length: Int; var nextHop: UInt32 }

    struct OrderResult: Codable {
        var order: String
        /// Median over runs of the summed per-vector times (fence + rdtsc around each call, like
        /// dpdk-test-fib's rte_rdtsc_precise) divided by the number of addresses.
        var cyclesPerLookup: Double
        var cyclesPerLookupRuns: [Double]
        /// Median over runs of a second pass timed by one rdtsc pair around it (no per-vector
        /// fences: vectors overlap in the pipeline; loop overhead included).
        var passCyclesPerLookup: Double
        var nsPerLookup: Double
        var allocationsPerLookup: Double
    }

    struct Report: Codable {
        var routes: Int
        var addresses: Int
        var vector: Int
        var groupsUsed: Int
        var hugePages: Bool
        var tscHz: Double
        var buildSeconds: Double
        var buildCyclesPerRoute: Double
        var buildAllocations: UInt64
        /// Minor page faults during the build: first touches of the lazily mapped tables.
        var buildPageFaults: Int
        var residentLookupBytes: Int
        var residentControlBytes: Int
        var hitRatio: Double
        var results: [OrderResult]
        var verified: Bool?
        var expectedChecked: Int?
    }

    func run() throws {
        if cpu >= 0 { _ = weft_pin_current_thread(Int32(cpu)) }
        let tscHz = Double(weft_tsc_hz())
        var rng = SplitMix64(seed: seed)

        let routeList = try routes.map { try Self.readRoutes($0) } ?? Self.generateRoutes(count: routeCount, distribution: distribution, rng: &rng)
        var addrs: [UInt32]
        if let addresses {
            addrs = try Self.readAddresses(addresses)
        } else {
            addrs = Self.generateAddresses(count: lookups, routes: routeList, rng: &rng)
        }
        if dpdkByteOrder { addrs = addrs.map(\.byteSwapped) }
        guard !addrs.isEmpty, !routeList.isEmpty else { throw ValidationError("no routes or no addresses") }

        // Build, timed: one add per route in file order (as dpdk-test-fib does).
        let table = try FIBTable(groupCapacity: groups, hugePages: hugePages)
        weft_malloc_counting(1)
        let mallocsBefore = weft_malloc_calls()
        let faultsBefore = Self.minorFaults()
        let t0 = weft_monotonic_ns(), c0 = weft_rdtsc()
        for r in routeList {
            try table.add(r.address, length: r.length, adjacency: r.nextHop)
        }
        let c1 = weft_rdtsc(), t1 = weft_monotonic_ns()
        let buildFaults = Self.minorFaults() - faultsBefore
        let buildAllocs = weft_malloc_calls() - mallocsBefore
        weft_malloc_counting(0)
        let resident = table.residentBytes()

        var verified: Bool?
        var expectedChecked: Int?
        if verify {
            let (ok, checked) = try verifyAll(table, addrs)
            verified = ok
            expectedChecked = checked
        }

        var orders: [(String, [UInt32])] = []
        if order == .file || order == .both { orders.append(("file", addrs)) }
        if order == .shuffled || order == .both {
            var s = addrs
            s.shuffle(using: &rng)
            orders.append(("shuffled", s))
        }
        var results: [OrderResult] = []
        for (name, list) in orders { results.append(measure(table, list, name: name, tscHz: tscHz)) }

        var hits = 0
        for a in addrs where table.lookup(a) != FIBTable.miss { hits += 1 }

        let report = Report(
            routes: routeList.count, addresses: addrs.count, vector: vector, groupsUsed: table.groupsInUse,
            hugePages: hugePages, tscHz: tscHz, buildSeconds: Double(t1 - t0) / 1e9,
            buildCyclesPerRoute: Double(c1 - c0) / Double(routeList.count), buildAllocations: buildAllocs,
            buildPageFaults: buildFaults,
            residentLookupBytes: resident.lookup, residentControlBytes: resident.control,
            hitRatio: Double(hits) / Double(addrs.count), results: results, verified: verified,
            expectedChecked: expectedChecked)
        if json {
            let enc = JSONEncoder()
            enc.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try enc.encode(report), as: UTF8.self))
        } else {
            printReport(report)
        }
        if verified == false { throw ExitCode(1) }
    }

    /// A full barrier, then rdtsc: DPDK's rte_rdtsc_precise.
    @inline(__always) private static func preciseTSC() -> UInt64 {
        if #available(macOS 15, *) { atomicMemoryFence(ordering: .sequentiallyConsistent) }
        return weft_rdtsc()
    }

    /// Per run, one pass over `list` in vectors with a fenced rdtsc around each
    /// bulk call (dpdk-test-fib's per-burst method), then one pass timed as a
    /// whole; run 0 only warms caches and TLB.
    private func measure(_ table: FIBTable, _ list: [UInt32], name: String, tscHz: Double) -> OrderResult {
        let view = table.lookupView
        let out = UnsafeMutablePointer<UInt32>.allocate(capacity: vector)
        defer { out.deallocate() }
        var perRun: [Double] = [], perPass: [Double] = []
        var allocs: UInt64 = 0
        var sink: UInt32 = 0
        list.withUnsafeBufferPointer { buf in
            let base = buf.baseAddress!, n = buf.count
            for run in 0...runs {
                var acc: UInt64 = 0
                weft_malloc_counting(1)
                let m0 = weft_malloc_calls()
                var i = 0
                while i < n {
                    let c = min(vector, n - i)
                    let s = Self.preciseTSC()
                    view.lookup(base + i, into: out, count: c)
                    acc &+= Self.preciseTSC() &- s
                    sink ^= out[0]
                    i += c
                }
                // The same pass again, timed as a whole: no fence between vectors.
                let p0 = weft_rdtsc()
                i = 0
                while i < n {
                    let c = min(vector, n - i)
                    view.lookup(base + i, into: out, count: c)
                    sink ^= out[0]
                    i += c
                }
                let p1 = weft_rdtsc()
                let m1 = weft_malloc_calls()
                weft_malloc_counting(0)
                if run > 0 {                  // run 0 warms caches and TLB
                    perRun.append(Double(acc) / Double(n))
                    perPass.append(Double(p1 &- p0) / Double(n))
                    allocs += m1 - m0
                }
            }
        }
        if sink == 0x1234_5678 { print("") }   // keep the results observable
        let med = Self.median(perRun)
        return OrderResult(order: name, cyclesPerLookup: med, cyclesPerLookupRuns: perRun,
                           passCyclesPerLookup: Self.median(perPass), nsPerLookup: med / tscHz * 1e9,
                           allocationsPerLookup: Double(allocs) / Double(2 * runs * list.count))
    }

    /// Bulk (in --vector sized calls) == scalar == prefix-store reference for
    /// every address; and == the --expect file when given.
    private func verifyAll(_ table: FIBTable, _ addrs: [UInt32]) throws -> (Bool, Int?) {
        var bulk = [UInt32](repeating: 0, count: addrs.count)
        addrs.withUnsafeBufferPointer { a in
            bulk.withUnsafeMutableBufferPointer { r in
                var i = 0
                while i < a.count {
                    let c = min(vector, a.count - i)
                    table.lookup(a.baseAddress! + i, into: r.baseAddress! + i, count: c)
                    i += c
                }
            }
        }
        var bad = 0
        for (i, a) in addrs.enumerated() {
            let s = table.lookup(a), ref = table.referenceLookup(a)
            if bulk[i] != s || s != ref {
                bad += 1
                if bad <= 5 { print("verify: \(IPv4Prefix.format(a)): bulk \(bulk[i]) scalar \(s) reference \(ref)") }
            }
        }
        var checked: Int?
        if let expect {
            let lines = try String(contentsOfFile: expect, encoding: .utf8).split(separator: "\n")
            guard lines.count == addrs.count else {
                print("verify: \(expect) has \(lines.count) lines for \(addrs.count) addresses")
                return (false, nil)
            }
            var badExpect = 0
            for (i, l) in lines.enumerated() {
                let want = l == "-" ? FIBTable.miss : UInt32(l) ?? FIBTable.miss - 1
                if bulk[i] != want {
                    badExpect += 1
                    if badExpect <= 5 { print("verify: \(IPv4Prefix.format(addrs[i])): weft \(bulk[i]) expected \(l)") }
                }
            }
            bad += badExpect
            checked = lines.count
        }
        if bad > 0 { print("verify: \(bad) mismatches") }
        return (bad == 0, checked)
    }

    private func printReport(_ r: Report) {
        func f(_ x: Double, _ d: Int = 1) -> String { String(format: "%.\(d)f", x) }
        print("weft-bench lpm: \(r.routes) routes, \(r.addresses) addresses, vector \(r.vector), \(runs) runs, TSC \(f(r.tscHz / 1e9, 2)) GHz\(r.hugePages ? ", huge pages" : "")")
        print("build: \(f(r.buildSeconds * 1e3)) ms (\(f(r.buildCyclesPerRoute, 0)) cycles/route, \(r.buildPageFaults) page faults), \(r.groupsUsed) groups, resident \(r.residentLookupBytes >> 20) MiB lookup + \(r.residentControlBytes >> 20) MiB control, hit ratio \(f(r.hitRatio * 100))%")
        for o in r.results {
            print("lookup \(o.order): \(f(o.cyclesPerLookup)) cycles/lookup (median; \(f(o.passCyclesPerLookup)) timing a whole pass without fences), \(f(o.nsPerLookup, 2)) ns, allocations/lookup \(String(format: "%.6f", o.allocationsPerLookup)); runs: " + o.cyclesPerLookupRuns.map { f($0) }.joined(separator: " "))
        }
        if let v = r.verified {
            print("verify: \(v ? "OK" : "FAILED") (bulk == scalar == reference\(r.expectedChecked.map { ", == expected file (\($0) next hops)" } ?? ""))")
        }
    }

    // MARK: files and generation

    static func minorFaults() -> Int {
        var u = rusage()
        getrusage(RUSAGE_SELF.rawValue, &u)
        return u.ru_minflt
    }

    static func median(_ v: [Double]) -> Double {
        let s = v.sorted()
        return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }

    static func lines(_ path: String) throws -> [Substring] {
        guard let data = FileManager.default.contents(atPath: path) else { throw ValidationError("cannot read \(path)") }
        return String(decoding: data, as: UTF8.self).split(whereSeparator: \.isNewline)
    }

    static func readRoutes(_ path: String) throws -> [Route] {
        try lines(path).enumerated().map { n, line in
            let f = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard f.count >= 2, let p = IPv4Prefix(f[0]), let nh = UInt32(f[1]), nh <= FIBTable.maxAdjacency else {
                throw ValidationError("\(path):\(n + 1): expected 'a.b.c.d/len nexthop', got '\(line)'")
            }
            return Route(address: p.address, length: p.length, nextHop: nh)
        }
    }

    static func readAddresses(_ path: String) throws -> [UInt32] {
        try lines(path).enumerated().map { n, line in
            guard let a = IPv4Prefix.parseAddress(line.split(separator: " ").first ?? "") else {
                throw ValidationError("\(path):\(n + 1): expected 'a.b.c.d', got '\(line)'")
            }
            return a
        }
    }

    /// dpdk-test-fib's generator: n*ratio/100 prefixes per listed length, each
    /// length's share of the space cut into equal slices with one random prefix
    /// per slice; next hops are random 21-bit values.
    static func generateRoutes(count: Int, distribution: String, rng: inout SplitMix64) throws -> [Route] {
        var perLength = [Int](repeating: 0, count: 33)
        for part in distribution.split(separator: ",") {
            let kv = part.split(separator: ":")
            guard kv.count == 2, let l = Int(kv[0]), (1...32).contains(l) else { throw ValidationError("bad --distribution '\(part)'") }
            if kv[1].hasSuffix("%") {
                guard let pct = Int(kv[1].dropLast()) else { throw ValidationError("bad --distribution '\(part)'") }
                perLength[l] = count * pct / 100
            } else {
                guard let n = Int(kv[1]) else { throw ValidationError("bad --distribution '\(part)'") }
                perLength[l] = n
            }
            guard perLength[l] <= 1 << l else { throw ValidationError("/\(l) cannot hold \(perLength[l]) prefixes") }
        }
        var out: [Route] = []
        out.reserveCapacity(count)
        for l in 1...32 where perLength[l] > 0 {
            let step = Double(UInt64(1) << UInt64(l)) / Double(perLength[l])
            var edge = 0.0
            for _ in 0..<perLength[l] {
                let lo = UInt64(edge), hi = UInt64(edge + step)
                let v = hi > lo ? lo + rng.next() % (hi - lo) : lo
                out.append(Route(address: UInt32(truncatingIfNeeded: v << UInt64(32 - l)), length: l,
                                 nextHop: UInt32(truncatingIfNeeded: rng.next()) & ((1 << 21) - 1)))
                edge += step
            }
        }
        return out
    }

    /// Address i lies inside route i mod N (random host bits), like dpdk-test-fib.
    static func generateAddresses(count: Int, routes: [Route], rng: inout SplitMix64) -> [UInt32] {
        (0..<count).map { i in
            let r = routes[i % routes.count]
            return r.address | (UInt32(truncatingIfNeeded: rng.next()) & ~IPv4Prefix.mask(r.length))
        }
    }

    /// Deterministic generator (SplitMix64) so runs can be repeated.
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
}
