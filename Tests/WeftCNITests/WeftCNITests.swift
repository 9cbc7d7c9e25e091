import Foundation
import XCTest
@testable import WeftCNI
import WeftClient

private func invoke(_ env: [String: String], _ stdin: String) -> PluginOutput {
    Plugin.run(environment: env, stdin: Array(stdin.utf8))
}

private func output(_ result: PluginOutput) throws -> JSON {
    try JSON.parse(result.stdout)
}

private let addEnv = ["CNI_COMMAND": "ADD", "CNI_CONTAINERID": "c1", "CNI_NETNS": "/var/run/netns/c1",
                      "CNI_IFNAME": "eth0", "CNI_PATH": "/opt/cni/bin"]

private func conf(_ version: String = "1.1.0", _ extra: String = "") -> String {
    #"{"cniVersion": "\#(version)", "name": "pods", "type": "weft", "socket": "/nonexistent/weft.sock"\#(extra)}"#
}

final class VersionCommandTests: XCTestCase {
    func testAnswersInTheAskedVersionAndListsAllSupported() throws {
        for asked in CNIVersion.supported {
            let result = invoke(["CNI_COMMAND": "VERSION"], #"{"cniVersion": "\#(asked)"}"#)
            XCTAssertEqual(result.exitCode, 0)
            let json = try output(result)
            XCTAssertEqual(json["cniVersion"], JSON.string(asked))
            XCTAssertEqual(json["supportedVersions"], ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"])
        }
        XCTAssertEqual(try output(invoke(["CNI_COMMAND": "VERSION"], "")).text,
                       #"{"cniVersion":"1.1.0","supportedVersions":["0.3.0","0.3.1","0.4.0","1.0.0","1.1.0"]}"#)
        XCTAssertEqual(try output(invoke(["CNI_COMMAND": "VERSION"], #"{"cniVersion": "0.2.0"}"#))["cniVersion"], "1.1.0")
        XCTAssertEqual(invoke(["CNI_COMMAND": "VERSION"], "{{").error?.code, 6)
    }
}

final class EnvironmentTests: XCTestCase {
    func testMissingVariablesAreCode4NamingThem() {
        var env = addEnv
        env["CNI_NETNS"] = nil
        let result = invoke(env, conf())
        XCTAssertEqual(result.exitCode, 1)
        XCTAssertEqual(result.error?.code, 4)
        XCTAssertTrue(result.error!.msg.contains("CNI_NETNS"), result.error!.msg)

        XCTAssertEqual(invoke([:], conf()).error?.code, 4)
        XCTAssertEqual(invoke(["CNI_COMMAND": "FROB"], conf()).error?.code, 4)
        XCTAssertEqual(invoke(["CNI_COMMAND": "GC"], conf()).error?.code, 4, "GC needs CNI_PATH")
        var check = addEnv
        check["CNI_COMMAND"] = "CHECK"
        check["CNI_PATH"] = ""
        XCTAssertEqual(invoke(check, conf()).error?.code, 4, "an empty variable is a missing one")
        var bad = addEnv
        bad["CNI_IFNAME"] = "a/b"
        XCTAssertEqual(invoke(bad, conf()).error?.code, 4)
        bad = addEnv
        bad["CNI_CONTAINERID"] = "-x"
        XCTAssertEqual(invoke(bad, conf()).error?.code, 4)
        bad = addEnv
        bad["CNI_NETNS"] = "relative/ns"
        XCTAssertEqual(invoke(bad, conf()).error?.code, 4)
    }

    func testDELNeedsNoNetns() throws {
        let invocation = try Invocation(environment: ["CNI_COMMAND": "DEL", "CNI_CONTAINERID": "c", "CNI_IFNAME": "eth0"])
        XCTAssertEqual(invocation.netns, "")
        XCTAssertEqual(invocation.path, [])
    }

    func testCNIArgs() throws {
        let args = try CNIArgs("IgnoreUnknown=1;K8S_POD_NAME=web;FOO=bar;IP=10.1.0.9")
        XCTAssertTrue(args.ignoreUnknown)
        XCTAssertEqual(args.ip, "10.1.0.9")
        XCTAssertEqual(args.pairs.count, 4)
        XCTAssertEqual(try CNIArgs("").pairs.count, 0)
        XCTAssertThrowsError(try CNIArgs("FOO=bar")) { XCTAssertEqual(($0 as? CNIError)?.code, 4) }
        XCTAssertThrowsError(try CNIArgs("novalue")) { XCTAssertEqual(($0 as? CNIError)?.code, 4) }
        XCTAssertThrowsError(try CNIArgs("=x")) { XCTAssertEqual(($0 as? CNIError)?.code, 4) }

        var env = addEnv
        env["CNI_ARGS"] = "IP=10.1.0.999"
        XCTAssertEqual(try Invocation(environment: env).args.ip, "10.1.0.999", "checked by ADD, against weftd")
        env["CNI_ARGS"] = "garbage"
        XCTAssertEqual(invoke(env, conf()).error?.code, 4)
    }
}

final class NetConfTests: XCTestCase {
    func testDefaultsAndFields() throws {
        let parsed = try NetConf(Array(#"{"cniVersion": "1.0.0", "name": "pods", "type": "weft"}"#.utf8))
        XCTAssertEqual(parsed.socket, "/run/weft/weft.sock")
        XCTAssertEqual(parsed.network, "pods")
        XCTAssertEqual(parsed.ipam, .weft)
        XCTAssertNil(parsed.subnet)

        let full = try NetConf(Array(conf("1.1.0", #", "network": "blue", "subnet": "10.1.0.0/24", "mtu": 1400, "ipam": {"type": "host-local"}, "dns": {"nameservers": ["10.1.0.1"]}"#).utf8))
        XCTAssertEqual(full.network, "blue")
        XCTAssertEqual(full.subnet, "10.1.0.0/24")
        XCTAssertEqual(full.mtu, 1400)
        XCTAssertEqual(full.ipam, .delegated(type: "host-local"))
        XCTAssertEqual(full.dns, ["nameservers": ["10.1.0.1"]])
        XCTAssertEqual(try NetConf(Array(conf("1.1.0", #", "ipam": {"type": "weft"}"#).utf8)).ipam, .weft)
    }

    func testPortMappingsAndIPMasq() throws {
        let parsed = try NetConf(Array(conf("1.1.0", #", "ipMasq": true, "runtimeConfig": {"portMappings": [{"hostPort": 8080, "containerPort": 80, "protocol": "TCP"}, {"hostPort": 53, "containerPort": 53, "protocol": "udp", "hostIP": "0.0.0.0"}]}"#).utf8))
        XCTAssertTrue(parsed.ipMasq)
        XCTAssertEqual(parsed.portMappings, [
            NetConf.PortMapping(hostPort: 8080, containerPort: 80, protocol: "tcp", hostIP: nil),
            NetConf.PortMapping(hostPort: 53, containerPort: 53, protocol: "udp", hostIP: nil)])
        func code(_ extra: String) -> Int? {
            do { _ = try NetConf(Array(conf("1.1.0", extra).utf8)); return nil } catch { return (error as? CNIError)?.code }
        }
        XCTAssertEqual(code(#", "ipMasq": "yes""#), 7)
        XCTAssertEqual(code(#", "runtimeConfig": {"portMappings": {}}"#), 7)
        XCTAssertEqual(code(#", "runtimeConfig": {"portMappings": [{"hostPort": 0, "containerPort": 80}]}"#), 7)
        XCTAssertEqual(code(#", "runtimeConfig": {"portMappings": [{"hostPort": 80, "containerPort": 80, "protocol": "sctp"}]}"#), 7)
    }

    func testAttachDriverQueues() throws {
        let tap = try NetConf(Array(conf("1.1.0", #", "attach": "tap", "queues": 4"#).utf8))
        XCTAssertEqual(tap.attach, "tap")
        XCTAssertEqual(tap.queues, 4)
        XCTAssertNil(tap.driver)
        let xdp = try NetConf(Array(conf("1.1.0", #", "driver": "af-xdp""#).utf8))
        XCTAssertEqual(xdp.driver, "af-xdp")
        XCTAssertNil(xdp.attach)
        func code(_ extra: String) -> Int? {
            do { _ = try NetConf(Array(conf("1.1.0", extra).utf8)); return nil } catch { return (error as? CNIError)?.code }
        }
        XCTAssertEqual(code(#", "attach": "macvlan""#), 7)
        XCTAssertEqual(code(#", "attach": true"#), 7)
        XCTAssertEqual(code(#", "driver": "dpdk""#), 7)
        XCTAssertEqual(code(#", "queues": 0"#), 7)
        XCTAssertEqual(code(#", "queues": "2""#), 7)
    }

    func testErrorsHaveTheSpecCodes() {
        func code(_ text: String) -> Int? {
            do { _ = try NetConf(Array(text.utf8)); return nil } catch { return (error as? CNIError)?.code }
        }
        XCTAssertEqual(code(""), 6)
        XCTAssertEqual(code(#"{"cniVersion": "1.1.0", "#), 6)
        XCTAssertEqual(code("[1]"), 6)
        XCTAssertEqual(code(#"{"name": "x", "type": "weft"}"#), 7)
        XCTAssertEqual(code(#"{"cniVersion": "0.2.0", "name": "x", "type": "weft"}"#), 1)
        XCTAssertEqual(code(#"{"cniVersion": "2.0.0", "name": "x", "type": "weft"}"#), 1)
        XCTAssertEqual(code(#"{"cniVersion": "1.1.0", "type": "weft"}"#), 7)
        XCTAssertEqual(code(#"{"cniVersion": "1.1.0", "name": "Bad_Name", "type": "weft"}"#), 7)
        XCTAssertEqual(code(conf("1.1.0", #", "mtu": "big""#)), 7)
        XCTAssertEqual(code(#"{"cniVersion": "1.1.0", "name": "x", "type": "weft", "socket": "relative.sock"}"#), 7)
        XCTAssertEqual(code(conf("1.1.0", #", "ipam": {}"#)), 7)
        XCTAssertEqual(code(conf("1.1.0", #", "ipam": {"type": "../evil"}"#)), 7)
        XCTAssertEqual(code(conf("1.1.0", #", "dns": {"nameservers": "1.1.1.1"}"#)), 7)
        XCTAssertEqual(code(conf("1.1.0", #", "prevResult": []"#)), 7)
    }

    func testValidAttachments() throws {
        let gc = try NetConf(Array(conf("1.1.0", #", "cni.dev/valid-attachments": [{"containerID": "a", "ifname": "eth0"}]"#).utf8))
        XCTAssertEqual(try gc.validAttachments(), [AttachmentKey(containerId: "a", ifName: "eth0")])
        let old = try NetConf(Array(conf("1.1.0", #", "cni.dev/attachments": []"#).utf8))
        XCTAssertEqual(try old.validAttachments(), [])
        XCTAssertThrowsError(try NetConf(Array(conf().utf8)).validAttachments())
        XCTAssertThrowsError(try NetConf(Array(conf("1.1.0", #", "cni.dev/valid-attachments": [{"containerID": 1}]"#).utf8)).validAttachments())
    }

    func testBandwidthCapability() throws {
        let parsed = try NetConf(Array(conf("1.1.0", #", "runtimeConfig": {"bandwidth": {"ingressRate": 0, "ingressBurst": 0, "egressRate": 20000000, "egressBurst": 4294967295}}"#).utf8))
        XCTAssertEqual(parsed.bandwidth, BandwidthLimits(egressRate: 20_000_000, egressBurst: 4_294_967_295), "0 is not set, as in the reference plugin")
        XCTAssertTrue(parsed.hasBandwidth)
        let huge = try NetConf(Array(conf("1.1.0", #", "runtimeConfig": {"bandwidth": {"ingressRate": 18446744073709551615, "ingressBurst": 1e6}}"#).utf8))
        XCTAssertEqual(huge.bandwidth, BandwidthLimits(ingressRate: Int64.max, ingressBurst: 1_000_000), "a Go uint64 beyond Int64")
        let none = try NetConf(Array(conf("1.1.0", #", "runtimeConfig": {"bandwidth": {}}"#).utf8))
        XCTAssertNil(none.bandwidth)
        XCTAssertTrue(none.hasBandwidth)
        XCTAssertFalse(try NetConf(Array(conf().utf8)).hasBandwidth)
        // Kept as an error for ADD and CHECK; DEL and GC do not need the limits.
        func failure(_ extra: String) -> CNIError? {
            (try? NetConf(Array(conf("1.1.0", extra).utf8)))?.bandwidthError
        }
        for bad in [#", "runtimeConfig": {"bandwidth": {"egressRate": 1000}}"#,
                    #", "runtimeConfig": {"bandwidth": {"ingressBurst": 1000}}"#,
                    #", "runtimeConfig": {"bandwidth": {"egressRate": -1, "egressBurst": 10}}"#,
                    #", "runtimeConfig": {"bandwidth": {"egressRate": 1.5, "egressBurst": 10}}"#,
                    #", "runtimeConfig": {"bandwidth": {"egressRate": "1M", "egressBurst": 10}}"#,
                    #", "runtimeConfig": {"bandwidth": [1]}"#] {
            let error = failure(bad)
            XCTAssertEqual(error?.code, 7, bad)
        }
        XCTAssertTrue(failure(#", "runtimeConfig": {"bandwidth": {"egressRate": 1000}}"#)?.msg.contains("egressBurst") ?? false)
    }

    func testUnknownFieldsSurvive() throws {
        let parsed = try NetConf(Array(conf("1.1.0", #", "capabilities": {"portMappings": true}, "x": [1, 2.5, null, false]"#).utf8))
        XCTAssertEqual(parsed.json["x"], .array([.int(1), .double(2.5), .null, .bool(false)]))
        XCTAssertEqual(try JSON.parse(parsed.json.bytes), parsed.json)
    }
}

final class ResultShapeTests: XCTestCase {
    private func sample() -> ResultBuilder {
        var builder = ResultBuilder()
        builder.addInterface(name: "wf01020304", mac: "aa:bb:cc:dd:ee:ff", mtu: 1400, sandbox: nil)
        let index = builder.addInterface(name: "eth0", mac: "02:fe:0a:01:00:02", mtu: 1400, sandbox: "/var/run/netns/c1")
        builder.addIP(address: "10.1.0.2/24", gateway: "10.1.0.1", interface: index)
        builder.addRoute(dst: "0.0.0.0/0", gw: "10.1.0.1")
        builder.dns = ["nameservers": ["10.1.0.1"]]
        return builder
    }

    func testPerVersionShape() throws {
        let v031 = sample().result(version: "0.3.1")
        XCTAssertEqual(v031.text, #"{"cniVersion":"0.3.1","dns":{"nameservers":["10.1.0.1"]},"interfaces":[{"mac":"aa:bb:cc:dd:ee:ff","name":"wf01020304"},{"mac":"02:fe:0a:01:00:02","name":"eth0","sandbox":"/var/run/netns/c1"}],"ips":[{"address":"10.1.0.2/24","gateway":"10.1.0.1","interface":1,"version":"4"}],"routes":[{"dst":"0.0.0.0/0","gw":"10.1.0.1"}]}"#)
        XCTAssertEqual(sample().result(version: "0.4.0")["ips"], v031["ips"])
        XCTAssertEqual(sample().result(version: "0.3.0")["ips"]?.array?.first?["version"], "4")

        let v100 = sample().result(version: "1.0.0")
        XCTAssertNil(v100["ips"]?.array?.first?["version"])
        XCTAssertNil(v100["interfaces"]?.array?[1]["mtu"])
        XCTAssertEqual(v100["interfaces"], v031["interfaces"])

        let v110 = sample().result(version: "1.1.0")
        XCTAssertEqual(v110["interfaces"]?.array?[1]["mtu"], 1400)
        XCTAssertEqual(v110["interfaces"]?.array?[0]["mtu"], 1400)
        XCTAssertNil(v110["interfaces"]?.array?[0]["sandbox"])
        XCTAssertNil(v110["ips"]?.array?.first?["version"])
        XCTAssertEqual(v110["cniVersion"], "1.1.0")
    }

    func testPreviousResultIsKeptAndOurInterfacesAppended() throws {
        let previous: JSON = ["cniVersion": "1.0.0", "interfaces": [["name": "lo0"]],
                              "ips": [["address": "192.168.0.2/24", "interface": 0]], "dns": ["domain": "x"]]
        var builder = ResultBuilder(previous: previous)
        builder.addInterface(name: "wf1", mac: nil, mtu: nil, sandbox: nil)
        let index = builder.addInterface(name: "eth0", mac: "02:fe:0a:01:00:02", mtu: nil, sandbox: "/n")
        XCTAssertEqual(index, 2)
        builder.addIP(address: "10.1.0.2/24", gateway: nil, interface: index)
        let result = builder.result(version: "0.4.0")
        XCTAssertEqual(result["interfaces"]?.array?.count, 3)
        XCTAssertEqual(result["ips"]?.array?.map { $0["version"] }, ["4", "4"], "0.4.0 needs ips[].version")
        XCTAssertEqual(result["dns"], ["domain": "x"])
    }

    func testIPAMResultsWeftCanAndCannotUse() throws {
        let good: JSON = ["ips": [["address": "10.1.0.50/24", "gateway": "10.1.0.1"]], "routes": [["dst": "0.0.0.0/0"]]]
        let outcome = try IPAMOutcome(good, plugin: "host-local")
        XCTAssertEqual(outcome.address, "10.1.0.50/24")
        XCTAssertEqual(outcome.defaultRouteVia, "10.1.0.1")
        XCTAssertNil(try IPAMOutcome(["ips": [["address": "10.1.0.50/24"]]], plugin: "x").defaultRouteVia)
        let refused: [JSON] = [
            ["ips": []],
            ["ips": [["address": "fd00::5/64"]]],
            ["ips": [["address": "10.1.0.5/24"], ["address": "10.1.0.6/24"]]],
            ["ips": [["address": "10.1.0.5/24", "gateway": "10.1.0.1"]], "routes": [["dst": "192.168.0.0/16"]]],
            ["ips": [["address": "10.1.0.5/24"]], "routes": [["dst": "0.0.0.0/0"]]],
        ]
        for result in refused {
            XCTAssertThrowsError(try IPAMOutcome(result, plugin: "x"), result.text) {
                XCTAssertEqual(($0 as? CNIError)?.code, 7, result.text)
            }
        }
    }

    func testFirstHost() throws {
        XCTAssertEqual(try Commands.firstHost(of: "10.1.0.0/24"), "10.1.0.1")
        XCTAssertEqual(try Commands.firstHost(of: "10.1.255.0/23"), "10.1.255.1")
        XCTAssertTrue(Commands.isIPv4("10.1.0.7"))
        XCTAssertFalse(Commands.isIPv4("10.1.0.256"))
        XCTAssertFalse(Commands.isIPv4("10.1.0"))
        XCTAssertFalse(Commands.isIPv4("+10.1.0.7"))
        XCTAssertFalse(Commands.isIPv4("10.1.0.-0"))
        XCTAssertFalse(Commands.isIPv4("10.01.0.7"))
    }
}

/// weftd not running: each command answers with the code a runtime acts on,
/// and says where it looked.
final class WeftdUnreachableTests: XCTestCase {
    func testCodes() {
        let add = invoke(addEnv, conf())
        XCTAssertEqual(add.error?.code, 50)
        XCTAssertTrue(add.error!.msg.contains("/nonexistent/weft.sock"), add.error!.msg)
        XCTAssertEqual(try output(add)["code"], 50)
        XCTAssertEqual(try output(add)["cniVersion"], "1.1.0")

        var env = addEnv
        env["CNI_COMMAND"] = "DEL"
        XCTAssertEqual(invoke(env, conf("0.3.1")).error?.code, 11, "DEL must be retried, not forgotten")
        XCTAssertEqual(try output(invoke(env, conf("0.3.1")))["cniVersion"], "0.3.1")
        XCTAssertEqual(invoke(["CNI_COMMAND": "STATUS"], conf()).error?.code, 50)
        XCTAssertEqual(invoke(["CNI_COMMAND": "GC", "CNI_PATH": "/x"], conf("1.1.0", #", "cni.dev/valid-attachments": []"#)).error?.code, 11)
    }

    func testCommandsNeedTheirVersion() {
        XCTAssertEqual(invoke(["CNI_COMMAND": "STATUS"], conf("1.0.0")).error?.code, 1)
        XCTAssertEqual(invoke(["CNI_COMMAND": "GC", "CNI_PATH": "/x"], conf("1.0.0", #", "cni.dev/valid-attachments": []"#)).error?.code, 1)
        var env = addEnv
        env["CNI_COMMAND"] = "CHECK"
        XCTAssertEqual(invoke(env, conf("0.3.1", #", "prevResult": {}"#)).error?.code, 1)
        XCTAssertEqual(invoke(env, conf("1.0.0")).error?.code, 7, "CHECK without prevResult")
    }
}

/// The delegation protocol against scripted plugins: the same environment
/// and stdin, CNI_COMMAND switched to DEL to undo, errors passed through.
final class DelegateTests: XCTestCase {
    private var directory = ""

    override func setUpWithError() throws {
        directory = "/tmp/weft-cni-test-" + String(UUID().uuidString.prefix(8))
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        addTeardownBlock { [directory] in try? FileManager.default.removeItem(atPath: directory) }
    }

    private func plugin(_ name: String, _ script: String) throws {
        let path = directory + "/" + name
        try ("#!/bin/sh\n" + script).write(toFile: path, atomically: true, encoding: .utf8)
        chmod(path, 0o755)
    }

    func testSameEnvironmentAndStdinAndResult() throws {
        try plugin("fake-ipam", """
            cat > "$(dirname "$0")/stdin.$CNI_COMMAND"
            env | grep '^CNI_' | sort > "$(dirname "$0")/env.$CNI_COMMAND"
            echo '{"cniVersion":"1.0.0","ips":[{"address":"10.1.0.9/24","gateway":"10.1.0.1"}]}'
            """)
        let env = ["CNI_COMMAND": "ADD", "CNI_CONTAINERID": "c1", "CNI_NETNS": "/n", "CNI_IFNAME": "eth0",
                   "CNI_ARGS": "IgnoreUnknown=1", "CNI_PATH": "/nowhere:" + directory, "OTHER": "kept"]
        let delegate = try Delegate(type: "fake-ipam", searchPath: ["/nowhere", directory], environment: env)
        XCTAssertEqual(delegate.executable, directory + "/fake-ipam")
        let stdin = Array(#"{"cniVersion":"1.0.0","name":"n","type":"weft","ipam":{"type":"fake-ipam"}}"#.utf8)
        let output = try delegate.run(command: "ADD", stdin: stdin)
        XCTAssertEqual(try JSON.parse(output)["ips"]?.array?.count, 1)
        XCTAssertEqual(Array(try Data(contentsOf: URL(fileURLWithPath: directory + "/stdin.ADD"))), stdin)
        let seen = try String(contentsOfFile: directory + "/env.ADD", encoding: .utf8)
        XCTAssertEqual(seen, "CNI_ARGS=IgnoreUnknown=1\nCNI_COMMAND=ADD\nCNI_CONTAINERID=c1\nCNI_IFNAME=eth0\nCNI_NETNS=/n\nCNI_PATH=/nowhere:\(directory)\n")

        _ = try delegate.run(command: "DEL", stdin: stdin, overrides: ["CNI_NETNS": nil, "CNI_IFNAME": "net1"])
        let del = try String(contentsOfFile: directory + "/env.DEL", encoding: .utf8)
        XCTAssertTrue(del.contains("CNI_COMMAND=DEL") && del.contains("CNI_IFNAME=net1") && !del.contains("CNI_NETNS"), del)
    }

    func testErrorsArePassedThroughWithTheirCode() throws {
        try plugin("failing", """
            cat >/dev/null
            echo '{"cniVersion":"1.0.0","code":11,"msg":"no more addresses","details":"range full"}'
            exit 1
            """)
        try plugin("garbage", "cat >/dev/null; echo oops; exit 3")
        let failing = try Delegate(type: "failing", searchPath: [directory], environment: [:])
        XCTAssertThrowsError(try failing.run(command: "ADD", stdin: [])) { error in
            let cni = error as? CNIError
            XCTAssertEqual(cni?.code, 11)
            XCTAssertEqual(cni?.msg, "IPAM plugin failing (ADD): no more addresses")
            XCTAssertEqual(cni?.details, "range full")
        }
        let garbage = try Delegate(type: "garbage", searchPath: [directory], environment: [:])
        XCTAssertThrowsError(try garbage.run(command: "ADD", stdin: Array(repeating: 0x20, count: 200_000))) { error in
            XCTAssertEqual((error as? CNIError)?.code, CNIError.delegateFailed)
            XCTAssertTrue("\(error)".contains("exit status 3") && "\(error)".contains("oops"), "\(error)")
        }
        XCTAssertThrowsError(try Delegate(type: "absent", searchPath: [directory], environment: [:])) {
            XCTAssertEqual(($0 as? CNIError)?.code, 7)
        }
        XCTAssertThrowsError(try Delegate(type: "failing", searchPath: [], environment: [:])) {
            XCTAssertEqual(($0 as? CNIError)?.code, 4)
        }
    }

    func testAnIPAMFailureDuringADDIsReturnedAndWeftdIsNotAsked() throws {
        try plugin("failing", #"cat >/dev/null; echo '{"cniVersion":"1.0.0","code":7,"msg":"bad range"}'; exit 1"#)
        var env = addEnv
        env["CNI_PATH"] = directory
        // weftd is unreachable too, but the network lookup comes first and fails with 50.
        let result = invoke(env, conf("1.0.0", #", "ipam": {"type": "failing"}"#))
        XCTAssertEqual(result.error?.code, 50)
    }
}
