import Foundation
import XCTest
@testable import WeftControl

final class WeftConfigTests: XCTestCase {
    func testDefaults() throws {
        let config = try WeftConfig.parse(yaml: "")
        XCTAssertEqual(config, WeftConfig())
        XCTAssertEqual(config.socketPath, "/run/weft/weft.sock")
        XCTAssertEqual(config.statePath, "/var/lib/weft/state.db")
        XCTAssertEqual(config.workerCPU, 1)
        XCTAssertEqual(config.pollMode, .adaptive)
        XCTAssertEqual(config.logLevel, .info)
        XCTAssertEqual(config.fibAlgorithm, .dir248)
    }

    func testFIBAlgorithm() throws {
        XCTAssertEqual(try WeftConfig.parse(yaml: "fib_algorithm: dir24-8\n").fibAlgorithm, .dir248)
        XCTAssertEqual(try WeftConfig.parse(yaml: "fib_algorithm: dxr\n").fibAlgorithm, .dxr)
        XCTAssertThrowsError(try WeftConfig.parse(yaml: "fib_algorithm: poptrie\n", source: "weftd.yaml")) {
            XCTAssertEqual("\($0)", "weftd.yaml: fib_algorithm: must be one of dir24-8, dxr, got \"poptrie\"")
        }
    }

    func testAllKeys() throws {
        let config = try WeftConfig.parse(yaml: """
            socket_path: /tmp/w.sock
            state_path: /tmp/w.db
            worker_cpu: 3
            poll_mode: busy
            log_level: debug
            nat_max_sessions: 1000000
            nat_port_range: "20000-29999"
            """)
        XCTAssertEqual(config, WeftConfig(socketPath: "/tmp/w.sock", statePath: "/tmp/w.db", workerCPU: 3,
                                          pollMode: .busy, logLevel: .debug, natMaxSessions: 1_000_000,
                                          natPortRange: 20000...29999))
    }

    func testFlagsOverrideTheFile() throws {
        let file = try WeftConfig.parse(yaml: "worker_cpu: 3\npoll_mode: busy\n")
        let config = file.overriding(.init(socketPath: "/x.sock", workerCPU: 0))
        XCTAssertEqual(config.workerCPU, 0)
        XCTAssertEqual(config.socketPath, "/x.sock")
        XCTAssertEqual(config.pollMode, .busy)
    }

    func testBadValuesNameTheKey() {
        func message(_ yaml: String) -> String {
            do {
                _ = try WeftConfig.parse(yaml: yaml, source: "weftd.yaml")
                return "no error"
            } catch { return "\(error)" }
        }
        XCTAssertTrue(message("poll_mode: fast").hasPrefix("weftd.yaml: poll_mode: "), message("poll_mode: fast"))
        XCTAssertTrue(message("worker_cpu: one").contains("worker_cpu"))
        XCTAssertTrue(message("worker_cpu: -1").contains("worker_cpu"))
        XCTAssertTrue(message("socket_path: relative.sock").contains("socket_path"))
        XCTAssertTrue(message("log_level: loud").contains("log_level"))
        XCTAssertTrue(message("nat_max_sessions: 0").contains("nat_max_sessions"))
        XCTAssertTrue(message("nat_port_range: \"80-90\"").contains("nat_port_range"))
        XCTAssertTrue(message("nat_port_range: \"40000-30000\"").contains("nat_port_range"))
        XCTAssertTrue(message("default_attach: macvlan").contains("default_attach"))
        XCTAssertTrue(message("default_driver: dpdk").contains("default_driver"))
        XCTAssertTrue(message("pollmode: busy").contains("pollmode: unknown key"), message("pollmode: busy"))
        XCTAssertTrue(message("- a\n- b").contains("mapping"))
        XCTAssertTrue(message("a: [").contains("not valid YAML"))
    }

    func testAttachDefaults() throws {
        let config = try WeftConfig.parse(yaml: "default_attach: tap\ndefault_driver: af-xdp\n")
        XCTAssertEqual(config.defaultAttach, .tap)
        XCTAssertEqual(config.defaultDriver, .afXdp)
        // A tap by default, but a request may still ask for a veth (with the default driver).
        XCTAssertEqual(try FieldRules.attachOptions(attach: nil, driver: nil, queues: nil, defaultAttach: .tap, defaultDriver: .afXdp).0, .tap)
        let veth = try FieldRules.attachOptions(attach: "veth", driver: nil, queues: nil, defaultAttach: .tap, defaultDriver: .afXdp)
        XCTAssertEqual(veth.0, .veth)
        XCTAssertEqual(veth.1, .afXdp)
    }

    func testLoadingAMissingFileNamesIt() {
        XCTAssertThrowsError(try WeftConfig.load(path: "/nonexistent/weftd.yaml")) { error in
            XCTAssertTrue("\(error)".contains("/nonexistent/weftd.yaml"))
        }
    }

    func testTheShippedExampleConfigLoads() throws {
        // Tests/WeftControlTests/<this file> -> repository root.
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let path = root.appendingPathComponent("configs/weftd.yaml").path
        try XCTSkipUnless(FileManager.default.fileExists(atPath: path), "no configs/weftd.yaml at \(path)")
        XCTAssertEqual(try WeftConfig.load(path: path), WeftConfig())
    }
}
