import ArgumentParser
import CMallocCounter
import CShims
import Foundation
import Synchronization
import WeftIP4

/// `weft-bench lpm`: builds a `FIBTable` (DIR-24-8) or a `FIBRangeTable` (DXR,
/// `--algorithm dxr`) from a route file and times bulk lookups of an address
/// list in vectors, the way `dpdk-test-fib` does, so both can be run on the
/// same files (`benchmarks/lpm.sh`); then times route updates (deletes and
/// re-adds of random routes) and reports the tables' memory.
///
/// Files (as `dpdk-test-fib -w routes -u ips` writes them): routes are
/// `a.b.c.d/len nexthop` per line, addresses `a.b.c.d` per line. Without
/// files, routes and addresses are generated with dpdk-test-fib's method: for
/// each prefix length, prefixes spread evenly over the address space, and the
/// i-th address lies inside route i mod N (so the list is in ascending order).
struct LPMCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lpm",
        abstract: "Benchmark the IPv4 FIB (DIR-24-8 or DXR longest-prefix match): cycles per lookup, build time, updates/s, memory.")

    enum Order: String, ExpressibleByArgument, CaseIterable { case file, shuffled, both }
    enum Algorithm: String, ExpressibleByArgument, CaseIterable { case dir248 = "dir24-8", dxr }

    @Option(help: "Table: dir24-8 (FIBTable, like rte_lpm) or dxr (FIBRangeTable: direct table + range search).")
    var algorithm: Algorithm = .dir248

    @Option(name: .customLong("direct-bits"), help: "dxr: address bits indexing the direct table (16...20).")
    var directBits = FIBRangeTable.defaultDirectBits

    @Option(help: "After the build, time this many deletes of random existing routes, each followed by its re-add (2 updates per route).")
    var updates = 100_000

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
        guard FIBRangeTable.directBitsRange.contains(directBits) else { throw ValidationError("--direct-bits must be 16...20") }
        guard updates >= 0 else { throw ValidationError("--updates must be >= 0") }
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
        /// "dir24-8" or "dxr".
        var algorithm: String
        /// dxr: K, the bits indexing the direct table.
        var directBits: Int?
        /// Lookup tables by the table's own accounting: dir24-8 = 64 MiB first level +
        /// 1 KiB per group in use; dxr = direct table + range pool high-water mark.
        var lookupBytes: Int
        /// Control side: dir24-8 = resident depth shadows + prefix store (estimated from the
        /// prefix counts); dxr = route lists + per-chunk arrays + free lists + prefix store.
        var controlBytes: Int
        /// The prefix store's dictionaries alone (part of controlBytes; the same in both).
        var prefixStoreBytes: Int
        /// Growth of the process's resident set over the build (all of the above, plus allocator slack).
        var buildResidentGrowthBytes: Int
        /// Updates timed after the build (half deletes, half re-adds), and their rate.
        var updates: Int
        var updateSeconds: Double
        var updatesPerSecond: Double
        /// dxr: chunks resolved by their direct entry, with short (16-bit next hop) and
        /// long (32-bit) range blocks, and ranges in all blocks.
        var dxrShape: FIBRangeTable.Shape?
        var dxrMemory: FIBRangeTable.Memory?
        /// dxr: time to pack the range pool after the build (`FIBRangeTable.compact`); 0 for dir24-8.
        var compactSeconds: Double
        /// lookupBytes / controlBytes are measured after the build (and compaction);
        /// these after the timed updates.
        var lookupBytesAfterUpdates: Int
        var controlBytesAfterUpdates: Int
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

        var report: Report
        switch algorithm {
        case .dir248:
            report = try run(DIR248UnderTest(try FIBTable(groupCapacity: groups, hugePages: hugePages)), routeList, addrs,
                             tscHz: tscHz, rng: &rng)
        case .dxr:
            report = try run(DXRUnderTest(try FIBRangeTable(directBits: directBits, hugePages: hugePages)), routeList, addrs, tscHz: tscHz, rng: &rng)
        }
        report.algorithm = algorithm.rawValue
        if json {
            let enc = JSONEncoder()
            enc.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try enc.encode(report), as: UTF8.self))
        } else {
            printReport(report)
        }
        if report.verified == false { throw ExitCode(1) }
    }

    /// Build (timed), updates (timed), --verify, lookups (timed) and memory of one table.
    private func run<T: TableUnderTest>(_ table: T, _ routeList: [Route], _ addrs: [UInt32], tscHz: Double,
                                        rng: inout SplitMix64) throws -> Report {
        // Build, timed: one add per route in file order (as dpdk-test-fib does).
        let rssBefore = Self.residentSetBytes()
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
        // dxr: pack the range pool once after the bulk load (timed apart).
        let k0 = weft_monotonic_ns()
        table.finishBulkLoad()
        let compactSeconds = Double(weft_monotonic_ns() - k0) / 1e9
        let rssGrowth = Self.residentSetBytes() - rssBefore
        let memory = table.memory(residentControl: table.residentBytes().control)

        // Updates, timed: delete a random existing route and add it back (the
        // table ends as built, so --verify and the lookups see the same routes).
        // (Own generator: the shuffled order stays what it was before updates existed.)
        var pickRNG = SplitMix64(seed: seed ^ 0x5EED_0F_0D_A7E5)
        var picks = [Int](repeating: 0, count: updates)
        for i in picks.indices { picks[i] = Int(pickRNG.next() % UInt64(routeList.count)) }
        let u0 = weft_monotonic_ns()
        for i in picks {
            let r = routeList[i]
            // Duplicate prefixes in a file: the last add wins; re-add what the table holds.
            let adj = table.adjacency(of: r.address, length: r.length) ?? r.nextHop
            _ = table.delete(r.address, length: r.length)
            try table.add(r.address, length: r.length, adjacency: adj)
        }
        let u1 = weft_monotonic_ns()
        let updateSeconds = Double(u1 - u0) / 1e9
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
        for (name, list) in orders { results.append(measure(table.view, list, name: name, tscHz: tscHz)) }

        var hits = 0
        let view = table.view
        for a in addrs where view.lookup(a) != FIBTable.miss { hits += 1 }

        let memoryAfterUpdates = table.memory(residentControl: resident.control)
        return Report(
            routes: routeList.count, addresses: addrs.count, vector: vector, groupsUsed: table.groupsUsed,
            hugePages: hugePages, tscHz: tscHz, buildSeconds: Double(t1 - t0) / 1e9,
            buildCyclesPerRoute: Double(c1 - c0) / Double(routeList.count), buildAllocations: buildAllocs,
            buildPageFaults: buildFaults,
            residentLookupBytes: resident.lookup, residentControlBytes: resident.control,
            hitRatio: Double(hits) / Double(addrs.count), results: results, verified: verified,
            expectedChecked: expectedChecked, algorithm: "", directBits: table.directBits,
            lookupBytes: memory.lookup, controlBytes: memory.control, prefixStoreBytes: memory.prefixStore,
            buildResidentGrowthBytes: rssGrowth, updates: 2 * updates, updateSeconds: updateSeconds,
            updatesPerSecond: updates > 0 ? Double(2 * updates) / updateSeconds : 0,
            dxrShape: table.dxrShape, dxrMemory: table.dxrMemory, compactSeconds: compactSeconds,
            lookupBytesAfterUpdates: memoryAfterUpdates.lookup, controlBytesAfterUpdates: memoryAfterUpdates.control)
    }

    /// Resident set of the process (/proc/self/statm), bytes.
    static func residentSetBytes() -> Int {
        guard let s = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
        let f = s.split(separator: " ")
        return f.count > 1 ? (Int(f[1]) ?? 0) * Int(sysconf(Int32(_SC_PAGESIZE))) : 0
    }

    /// A full barrier, then rdtsc: DPDK's rte_rdtsc_precise.
    @inline(__always) private static func preciseTSC() -> UInt64 {
        if #available(macOS 15, *) { atomicMemoryFence(ordering: .sequentiallyConsistent) }
        return weft_rdtsc()
    }

    /// Per run, one pass over `list` in vectors with a fenced rdtsc around each
    /// bulk call (dpdk-test-fib's per-burst method), then one pass timed as a
    /// whole; run 0 only warms caches and TLB.
    private func measure<V: LPMView>(_ view: V, _ list: [UInt32], name: String, tscHz: Double) -> OrderResult {
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
    private func verifyAll<T: TableUnderTest>(_ table: T, _ addrs: [UInt32]) throws -> (Bool, Int?) {
        let view = table.view
        var bulk = [UInt32](repeating: 0, count: addrs.count)
        addrs.withUnsafeBufferPointer { a in
            bulk.withUnsafeMutableBufferPointer { r in
                var i = 0
                while i < a.count {
                    let c = min(vector, a.count - i)
                    view.lookup(a.baseAddress! + i, into: r.baseAddress! + i, count: c)
                    i += c
                }
            }
        }
        var bad = 0
        for (i, a) in addrs.enumerated() {
            let s = view.lookup(a), ref = table.referenceLookup(a)
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
        print("weft-bench lpm: \(r.algorithm)\(r.directBits.map { " (K=\($0))" } ?? ""), \(r.routes) routes, \(r.addresses) addresses, vector \(r.vector), \(runs) runs, TSC \(f(r.tscHz / 1e9, 2)) GHz\(r.hugePages ? ", huge pages" : "")")
        print("build: \(f(r.buildSeconds * 1e3)) ms (\(f(r.buildCyclesPerRoute, 0)) cycles/route, \(r.buildPageFaults) page faults), \(r.groupsUsed) groups, resident \(r.residentLookupBytes >> 20) MiB lookup + \(r.residentControlBytes >> 20) MiB control, hit ratio \(f(r.hitRatio * 100))%")
        func mib(_ b: Int) -> String { f(Double(b) / 1048576, 2) + " MiB" }
        print("memory after build\(r.algorithm == "dxr" ? " + compact (\(f(r.compactSeconds * 1e3)) ms)" : ""): lookup \(r.lookupBytes) B (\(mib(r.lookupBytes))), control \(r.controlBytes) B (\(mib(r.controlBytes)), of which prefix store ~\(mib(r.prefixStoreBytes))); resident set grew \(mib(r.buildResidentGrowthBytes)) over the build; after the updates: lookup \(mib(r.lookupBytesAfterUpdates)), control \(mib(r.controlBytesAfterUpdates))")
        if let m = r.dxrMemory, let sh = r.dxrShape {
            print("dxr: direct \(mib(m.directBytes)), ranges \(mib(m.rangeBytesInUse)) in use / \(mib(m.rangeBytesReserved)) high water; \(sh.ranges) ranges, chunks: \(sh.directChunks) direct, \(sh.shortChunks) short, \(sh.longChunks) long (\(sh.splitChunks) of them split per /24); control: route lists \(mib(m.routeListBytes)), per-chunk \(mib(m.chunkControlBytes)), free lists \(mib(m.freeListBytes))")
        }
        if r.updates > 0 {
            print("updates: \(r.updates) (deletes + re-adds of random routes) in \(f(r.updateSeconds * 1e3)) ms: \(f(r.updatesPerSecond / 1e6, 2)) M updates/s")
        }
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

/// The bulk and scalar lookups `weft-bench lpm` times (both read sides are
/// frozen structs of raw pointers; generic code is specialized for each).
protocol LPMView {
    func lookup(_ address: UInt32) -> UInt32
    func lookup(_ addresses: UnsafePointer<UInt32>, into results: UnsafeMutablePointer<UInt32>, count: Int)
}

extension FIBLookup: LPMView {}
extension FIBRangeLookup: LPMView {}

/// What `weft-bench lpm` needs from a table, for either algorithm.
protocol TableUnderTest {
    associatedtype View: LPMView
    var view: View { get }
    func add(_ address: UInt32, length: Int, adjacency: UInt32) throws
    func delete(_ address: UInt32, length: Int) -> Bool
    func adjacency(of address: UInt32, length: Int) -> UInt32?
    func referenceLookup(_ address: UInt32) -> UInt32
    func residentBytes() -> (lookup: Int, control: Int)
    func memory(residentControl: Int) -> (lookup: Int, control: Int, prefixStore: Int)
    /// Called once after the timed build.
    func finishBulkLoad()
    var groupsUsed: Int { get }
    var directBits: Int? { get }
    var dxrShape: FIBRangeTable.Shape? { get }
    var dxrMemory: FIBRangeTable.Memory? { get }
}

struct DIR248UnderTest: TableUnderTest {
    let table: FIBTable
    init(_ table: FIBTable) { self.table = table }
    var view: FIBLookup { table.lookupView }
    func add(_ address: UInt32, length: Int, adjacency: UInt32) throws { try table.add(address, length: length, adjacency: adjacency) }
    func delete(_ address: UInt32, length: Int) -> Bool { table.delete(address, length: length) }
    func adjacency(of address: UInt32, length: Int) -> UInt32? { table.adjacency(of: address, length: length) }
    func referenceLookup(_ address: UInt32) -> UInt32 { table.referenceLookup(address) }
    func residentBytes() -> (lookup: Int, control: Int) { table.residentBytes() }
    /// First level (64 MiB) + 1 KiB per group in use; control = the depth shadows'
    /// resident pages + the prefix store (the same estimate as `FIBRangeTable`'s).
    func memory(residentControl: Int) -> (lookup: Int, control: Int, prefixStore: Int) {
        let store = table.prefixStoreBytes
        return ((1 << 24) * 4 + table.groupsInUse * 1024, residentControl + store, store)
    }
    func finishBulkLoad() {}
    var groupsUsed: Int { table.groupsInUse }
    var directBits: Int? { nil }
    var dxrShape: FIBRangeTable.Shape? { nil }
    var dxrMemory: FIBRangeTable.Memory? { nil }
}

struct DXRUnderTest: TableUnderTest {
    let table: FIBRangeTable
    init(_ table: FIBRangeTable) { self.table = table }
    var view: FIBRangeLookup { table.lookupView }
    func add(_ address: UInt32, length: Int, adjacency: UInt32) throws { try table.add(address, length: length, adjacency: adjacency) }
    func delete(_ address: UInt32, length: Int) -> Bool { table.delete(address, length: length) }
    func adjacency(of address: UInt32, length: Int) -> UInt32? { table.adjacency(of: address, length: length) }
    func referenceLookup(_ address: UInt32) -> UInt32 { table.referenceLookup(address) }
    func residentBytes() -> (lookup: Int, control: Int) { table.residentBytes() }
    func memory(residentControl: Int) -> (lookup: Int, control: Int, prefixStore: Int) {
        let m = table.memory
        return (m.lookupBytes, m.controlBytes, m.prefixStoreBytes)
    }
    func finishBulkLoad() { table.compact() }
    var groupsUsed: Int { 0 }
    var directBits: Int? { table.directBits }
    var dxrShape: FIBRangeTable.Shape? { table.shape }
    var dxrMemory: FIBRangeTable.Memory? { table.memory }
}
