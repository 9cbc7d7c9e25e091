// NetnsWorker against real namespaces. Each test gets two fresh namespaces:
// "node" plays weftd's (the worker's home, so no link is ever created in the
// machine's own namespace) and "ctr" plays the container. Both are deleted
// by teardown blocks registered as soon as they exist, so a failing test
// leaves nothing behind.
import Foundation
import XCTest
import WeftControl

final class NetnsWorkerTests: XCTestCase {
    private var tag = ""
    private var node = ""
    private var ctr = ""
    private var worker: NetnsWorker!

    private var ctrPath: String { "/var/run/netns/\(ctr)" }

    override func setUpWithError() throws {
        guard getuid() == 0 else {
            print("NetnsWorkerTests: skipped, creating network namespaces needs root")
            throw XCTSkip("needs root to create network namespaces")
        }
        tag = String(UInt32.random(in: 0...UInt32.max), radix: 16)
        node = "weft-t-\(tag)-n"
        ctr = "weft-t-\(tag)-c"
        try addNamespace(node)
        try addNamespace(ctr)
        worker = try NetnsWorker(homeNetnsPath: "/var/run/netns/\(node)")
        addTeardownBlock { [worker] in worker?.shutdown() }
    }

    private func addNamespace(_ name: String) throws {
        addTeardownBlock { _ = Self.sh(["ip", "netns", "del", name]) }
        let r = Self.sh(["ip", "netns", "add", name])
        guard r.status == 0 else { throw XCTSkip("ip netns add failed: \(r.out)") }
    }

    // MARK: tests

    func testCreateVethConfiguresBothEnds() throws {
        let host = hostName(1)
        let mac: [UInt8] = [0x02, 0xfe, 0x0a, 0x01, 0x00, 0x02]
        let r = try worker.createVeth(spec(host, "eth0", mac: mac, address: "10.1.0.2", gateway: "10.1.0.1"))

        let eth0 = try link(ns: ctr, "eth0")
        XCTAssertEqual(eth0["ifindex"] as? Int, Int(r.containerIfIndex))
        XCTAssertEqual(eth0["address"] as? String, "02:fe:0a:01:00:02")
        XCTAssertEqual(eth0["mtu"] as? Int, 1400)
        XCTAssertTrue((eth0["flags"] as? [String] ?? []).contains("UP"))
        XCTAssertEqual(eth0["operstate"] as? String, "UP") // carrier: host end is up too
        let inet = (eth0["addr_info"] as? [[String: Any]] ?? []).filter { $0["family"] as? String == "inet" }
        XCTAssertEqual(inet.count, 1)
        XCTAssertEqual(inet.first?["local"] as? String, "10.1.0.2")
        XCTAssertEqual(inet.first?["prefixlen"] as? Int, 24)
        XCTAssertTrue((try link(ns: ctr, "lo")["flags"] as? [String] ?? []).contains("UP"))

        let routes = try json(["ip", "-n", ctr, "-j", "route", "show", "default"])
        XCTAssertEqual(routes.count, 1)
        XCTAssertEqual(routes.first?["gateway"] as? String, "10.1.0.1")
        XCTAssertEqual(routes.first?["dev"] as? String, "eth0")

        let hostLink = try link(ns: node, host)
        XCTAssertEqual(hostLink["ifindex"] as? Int, Int(r.hostIfIndex))
        XCTAssertEqual(hostLink["address"] as? String, r.hostMac.map { String(format: "%02x", $0) }.joined(separator: ":"))
        XCTAssertEqual(hostLink["mtu"] as? Int, 1400)
        XCTAssertTrue((hostLink["flags"] as? [String] ?? []).contains("UP"))
        let v6 = Self.sh(["ip", "netns", "exec", node, "cat", "/proc/sys/net/ipv6/conf/\(host)/disable_ipv6"])
        if v6.status == 0 { XCTAssertEqual(v6.out.trimmingCharacters(in: .whitespacesAndNewlines), "1") }

        try assertSegmentationOff(ns: ctr, "eth0")
        try assertSegmentationOff(ns: node, host)

        // The temporary peer name is gone everywhere.
        XCTAssertEqual(try linkNames(ns: node), ["lo", host])
        XCTAssertEqual(try linkNames(ns: ctr), ["lo", "eth0"])
        XCTAssertTrue(worker.linkExists(host))
        XCTAssertTrue(worker.netnsExists(ctrPath))
        XCTAssertTrue(worker.containerLinkExists(netnsPath: ctrPath, ifName: "eth0"))
        XCTAssertFalse(worker.containerLinkExists(netnsPath: ctrPath, ifName: "eth9"))
    }

    func testCreateWithoutGatewayAddsNoDefaultRoute() throws {
        _ = try worker.createVeth(spec(hostName(1), "eth0", address: "10.2.0.2", gateway: nil))
        XCTAssertEqual(try json(["ip", "-n", ctr, "-j", "route", "show", "default"]).count, 0)
    }

    func testDeleteRemovesBothEndsAndIsIdempotent() throws {
        let host = hostName(1)
        _ = try worker.createVeth(spec(host, "eth0"))
        XCTAssertTrue(try worker.deleteVeth(hostIfName: host))
        XCTAssertFalse(worker.linkExists(host))
        XCTAssertFalse(worker.containerLinkExists(netnsPath: ctrPath, ifName: "eth0"))
        XCTAssertEqual(try linkNames(ns: node), ["lo"])
        XCTAssertEqual(try linkNames(ns: ctr), ["lo"])
        XCTAssertFalse(try worker.deleteVeth(hostIfName: host))
    }

    func testDeleteWorksAfterContainerNamespaceIsGone() throws {
        let host = hostName(1)
        _ = try worker.createVeth(spec(host, "eth0"))
        XCTAssertEqual(Self.sh(["ip", "netns", "del", ctr]).status, 0)
        XCTAssertFalse(worker.netnsExists(ctrPath))
        // The kernel tears the namespace (and the pair) down asynchronously:
        // either we delete it or it is already gone; neither may throw.
        _ = try worker.deleteVeth(hostIfName: host)
        XCTAssertFalse(worker.linkExists(host))
        XCTAssertFalse(try worker.deleteVeth(hostIfName: host))
        XCTAssertFalse(worker.containerLinkExists(netnsPath: ctrPath, ifName: "eth0"))
    }

    func testMissingNamespaceThrowsAndLeavesNothing() throws {
        let host = hostName(1)
        let missing = "/var/run/netns/weft-t-\(tag)-missing"
        var s = spec(host, "eth0")
        s.netnsPath = missing
        XCTAssertThrowsError(try worker.createVeth(s)) { error in
            let e = error as? NetnsError
            XCTAssertEqual(e?.errno, ENOENT)
            XCTAssertTrue(e?.message.contains(missing) ?? false, "\(error)")
        }
        XCTAssertFalse(worker.linkExists(host))
        XCTAssertEqual(try linkNames(ns: node), ["lo"])
        XCTAssertFalse(worker.netnsExists(missing))
    }

    func testDuplicateHostNameThrowsAndKeepsExisting() throws {
        let host = hostName(1)
        let first = try worker.createVeth(spec(host, "eth0", address: "10.1.0.2"))
        XCTAssertThrowsError(try worker.createVeth(spec(host, "eth1", address: "10.1.0.3"))) { error in
            XCTAssertEqual((error as? NetnsError)?.errno, EEXIST, "\(error)")
        }
        XCTAssertEqual(try link(ns: node, host)["ifindex"] as? Int, Int(first.hostIfIndex))
        XCTAssertEqual(try linkNames(ns: node), ["lo", host])
        XCTAssertEqual(try linkNames(ns: ctr), ["lo", "eth0"])
        let inet = try link(ns: ctr, "eth0")["addr_info"] as? [[String: Any]] ?? []
        XCTAssertTrue(inet.contains { $0["local"] as? String == "10.1.0.2" })
    }

    func testDuplicateContainerIfNameThrowsAndLeavesNothing() throws {
        let host1 = hostName(1), host2 = hostName(2)
        _ = try worker.createVeth(spec(host1, "eth0", address: "10.1.0.2"))
        XCTAssertThrowsError(try worker.createVeth(spec(host2, "eth0", address: "10.1.0.3"))) { error in
            let e = error as? NetnsError
            XCTAssertEqual(e?.errno, EEXIST, "\(error)")
            XCTAssertTrue(e?.message.contains("eth0") ?? false, "\(error)")
        }
        // Rolled back in both namespaces, and the worker is home again (it
        // finds host1, which only exists in the node namespace).
        XCTAssertFalse(worker.linkExists(host2))
        XCTAssertTrue(worker.linkExists(host1))
        XCTAssertEqual(try linkNames(ns: node), ["lo", host1])
        XCTAssertEqual(try linkNames(ns: ctr), ["lo", "eth0"])
    }

    func testFailureAtLastStepRollsBackEverything() throws {
        let host1 = hostName(1), host2 = hostName(2)
        _ = try worker.createVeth(spec(host1, "eth0", address: "10.1.0.2", gateway: "10.1.0.1"))
        // eth1 gets renamed, addressed and brought up; only its default route
        // clashes with eth0's.
        XCTAssertThrowsError(try worker.createVeth(spec(host2, "eth1", address: "10.1.0.3", gateway: "10.1.0.1"))) { error in
            XCTAssertEqual((error as? NetnsError)?.errno, EEXIST, "\(error)")
            XCTAssertTrue("\(error)".contains("default route"), "\(error)")
        }
        XCTAssertEqual(try linkNames(ns: node), ["lo", host1])
        XCTAssertEqual(try linkNames(ns: ctr), ["lo", "eth0"])
    }

    func testInvalidInputNamesTheField() throws {
        let host = hostName(1)
        let cases: [(String, (inout VethSpec) -> Void)] = [
            ("hostIfName", { $0.hostIfName = "a-name-longer-than-15" }),
            ("containerIfName", { $0.containerIfName = "" }),
            ("containerIfName", { $0.containerIfName = "eth/0" }),
            ("netnsPath", { $0.netnsPath = "relative/ns" }),
            ("mac", { $0.mac = [2, 0, 0, 0, 1] }),
            ("mac", { $0.mac = [1, 0, 0, 0, 0, 1] }),
            ("mtu", { $0.mtu = 67 }),
            ("mtu", { $0.mtu = 65536 }),
            ("address", { $0.address = "10.1.0" }),
            ("address", { $0.address = "10.1.0.256" }),
            ("prefixLength", { $0.prefixLength = 33 }),
            ("gateway", { $0.gateway = "10.9.0.1" }),
            ("gateway", { $0.gateway = "gw" }),
        ]
        for (field, mutate) in cases {
            var s = spec(host, "eth0", gateway: "10.1.0.1")
            mutate(&s)
            XCTAssertThrowsError(try worker.createVeth(s), field) { error in
                let e = error as? NetnsError
                XCTAssertEqual(e?.errno, EINVAL)
                XCTAssertTrue(e?.message.contains(field) ?? false, "\(field): \(error)")
            }
        }
        XCTAssertThrowsError(try worker.deleteVeth(hostIfName: "a-name-longer-than-15"))
        XCTAssertEqual(try linkNames(ns: node), ["lo"])
    }

    func testConcurrentCallersAreSerialized() throws {
        let n = 4
        let results = UnsafeMutableBufferPointer<Result<VethResult, Error>?>.allocate(capacity: n)
        defer { results.deallocate() }
        results.initialize(repeating: nil)
        let w = worker!
        // One default route per namespace: only the first gets a gateway.
        let specs = (0..<n).map {
            spec(hostName($0), "eth\($0)", address: "10.1.0.\($0 + 2)", gateway: $0 == 0 ? "10.1.0.1" : nil)
        }
        DispatchQueue.concurrentPerform(iterations: n) { i in
            results[i] = Result { try w.createVeth(specs[i]) }
        }
        for i in 0..<n { XCTAssertNoThrow(try results[i]!.get()) }
        XCTAssertEqual(try linkNames(ns: node).sorted(), (["lo"] + specs.map(\.hostIfName)).sorted())
        XCTAssertEqual(try linkNames(ns: ctr).sorted(), (["lo"] + specs.map(\.containerIfName)).sorted())
    }

    func testDefaultInitAndShutdown() throws {
        let w = try NetnsWorker()
        XCTAssertTrue(w.linkExists("lo")) // read-only look at the process's netns
        w.shutdown()
        w.shutdown()
        XCTAssertFalse(w.linkExists("lo"))
        XCTAssertThrowsError(try w.deleteVeth(hostIfName: "lo")) { error in
            XCTAssertEqual((error as? NetnsError)?.errno, ESHUTDOWN)
        }
        XCTAssertThrowsError(try NetnsWorker(homeNetnsPath: "/var/run/netns/weft-t-\(tag)-missing"))
    }

    /// Timing harness, not a pass/fail check on speed: 20 attach/detach
    /// cycles (after 2 warm-up ones) in the test namespaces, printing the
    /// median, min and max of each in milliseconds.
    func testAttachDetachLatency() throws {
        let host = hostName(1)
        var create: [Double] = [], delete: [Double] = []
        for i in 0..<22 {
            let t0 = DispatchTime.now().uptimeNanoseconds
            _ = try worker.createVeth(spec(host, "eth0", address: "10.1.0.2", gateway: "10.1.0.1"))
            let t1 = DispatchTime.now().uptimeNanoseconds
            XCTAssertTrue(try worker.deleteVeth(hostIfName: host))
            let t2 = DispatchTime.now().uptimeNanoseconds
            if i >= 2 {
                create.append(Double(t1 - t0) / 1e6)
                delete.append(Double(t2 - t1) / 1e6)
            }
        }
        func stats(_ v: [Double]) -> String {
            let s = v.sorted()
            let median = s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
            return String(format: "median %.2f ms (min %.2f, max %.2f, n=%d)", median, s.first!, s.last!, s.count)
        }
        print("NetnsWorkerTests latency: createVeth \(stats(create))")
        print("NetnsWorkerTests latency: deleteVeth \(stats(delete))")
        XCTAssertEqual(try linkNames(ns: node), ["lo"])
        XCTAssertEqual(try linkNames(ns: ctr), ["lo"])
    }

    // MARK: helpers

    private func hostName(_ i: Int) -> String { "wt\(tag)\(i)" }

    private func spec(_ host: String, _ ifName: String, mac: [UInt8]? = nil,
                      address: String = "10.1.0.2", gateway: String? = "10.1.0.1") -> VethSpec {
        let last = UInt8(truncatingIfNeeded: host.hashValue)
        return VethSpec(hostIfName: host, netnsPath: ctrPath, containerIfName: ifName,
                        mac: mac ?? [0x02, 0xfe, 0, 0, 1, last], mtu: 1400,
                        address: address, prefixLength: 24, gateway: gateway)
    }

    private func link(ns: String, _ name: String) throws -> [String: Any] {
        let links = try json(["ip", "-n", ns, "-j", "addr", "show", "dev", name])
        return try XCTUnwrap(links.first, "\(name) not in \(ns)")
    }

    private func linkNames(ns: String) throws -> [String] {
        try json(["ip", "-n", ns, "-j", "link", "show"]).compactMap { $0["ifname"] as? String }
    }

    private func json(_ args: [String]) throws -> [[String: Any]] {
        let r = Self.sh(args)
        guard r.status == 0 else {
            XCTFail("\(args.joined(separator: " ")): \(r.out)")
            return []
        }
        let text = r.out.trimmingCharacters(in: .whitespacesAndNewlines)
        if text.isEmpty { return [] }
        return try XCTUnwrap(JSONSerialization.jsonObject(with: Data(text.utf8)) as? [[String: Any]])
    }

    private func assertSegmentationOff(ns: String, _ dev: String, line: UInt = #line) throws {
        let r = Self.sh(["ip", "netns", "exec", ns, "ethtool", "-k", dev])
        guard r.status == 0 else {
            print("NetnsWorkerTests: ethtool unavailable, offloads not checked: \(r.out)")
            return
        }
        let off = Dictionary(r.out.split(separator: "\n").compactMap { row -> (String, String)? in
            let kv = row.split(separator: ":", maxSplits: 1)
            guard kv.count == 2 else { return nil }
            return (kv[0].trimmingCharacters(in: .whitespaces),
                    String(kv[1].trimmingCharacters(in: .whitespaces).prefix(while: { $0 != " " })))
        }, uniquingKeysWith: { a, _ in a })
        XCTAssertEqual(off["tcp-segmentation-offload"], "off", dev, line: line)
        XCTAssertEqual(off["generic-segmentation-offload"], "off", dev, line: line)
        XCTAssertEqual(off["tx-udp-segmentation"], "off", dev, line: line)
        XCTAssertEqual(off["tx-checksumming"], "on", dev, line: line)
    }

    /// Runs a command (PATH lookup through /usr/bin/env), stdout+stderr merged.
    @discardableResult
    private static func sh(_ args: [String]) -> (status: Int32, out: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = args
        var env = ProcessInfo.processInfo.environment
        env["PATH"] = "/usr/sbin:/sbin:/usr/bin:/bin:" + (env["PATH"] ?? "")
        p.environment = env
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        do { try p.run() } catch { return (-1, "\(error)") }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}
