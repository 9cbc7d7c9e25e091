import Foundation
import XCTest
@testable import WeftControl

/// The HTTP API through a real unix socket, with fake dataplane and kernel.
final class APIServerTests: XCTestCase {
    private var fixture: ControlFixture!
    private var executor: ControlExecutor!
    private var server: APIServer!
    private var client: UnixHTTPClient!
    private var socketPath: String { fixture.directory + "/run/weft.sock" }

    override func setUpWithError() throws {
        fixture = try ControlFixture(self)
        executor = ControlExecutor()
        server = APIServer(socketPath: socketPath, networks: fixture.networks, attachments: fixture.attachments,
                           dataplane: fixture.dataplane, executor: executor, log: ControlFixture.quietLog)
        try server.start()
        client = UnixHTTPClient(socketPath: socketPath, timeoutSeconds: 10)
    }

    override func tearDown() {
        server?.stop()
        executor?.shutdown()
    }

    private func send(_ method: String, _ path: String, json: String? = nil) throws -> UnixHTTPClient.Response {
        try client.send(method: method, path: path, body: json.map { Array($0.utf8) })
    }

    private func errorBody(_ response: UnixHTTPClient.Response, file: StaticString = #filePath,
                           line: UInt = #line) throws -> ErrorResponse.Detail {
        XCTAssertEqual(response.header("content-type"), "application/json", file: file, line: line)
        return try JSONDecoder().decode(ErrorResponse.self, from: Data(response.body)).error
    }

    func testHealth() throws {
        let response = try send("GET", "/v1/health")
        XCTAssertEqual(response.status, 200)
        XCTAssertEqual(response.bodyText, #"{"status":"ok","version":"0.1.0"}"#)
    }

    func testSocketIsCreatedWithMode0600InACreatedDirectory() throws {
        let attributes = try FileManager.default.attributesOfItem(atPath: socketPath)
        XCTAssertEqual((attributes[.posixPermissions] as? NSNumber)?.intValue, 0o600)
        XCTAssertEqual(attributes[.type] as? FileAttributeType, .typeSocket)
    }

    func testMalformedJSONIs400NamingTheProblem() throws {
        let response = try send("POST", "/v1/networks", json: #"{"name": "blue", "subnet": "#)
        XCTAssertEqual(response.status, 400)
        let error = try errorBody(response)
        XCTAssertEqual(error.code, "invalid_json")
        XCTAssertTrue(error.message.contains("not valid JSON"), error.message)

        let notAnObject = try send("POST", "/v1/networks", json: "[1,2]")
        XCTAssertEqual(notAnObject.status, 400)
        XCTAssertEqual(try errorBody(notAnObject).code, "invalid_json")

        let empty = try send("POST", "/v1/networks", json: "")
        XCTAssertEqual(try errorBody(empty).code, "invalid_json")
    }

    func testMissingOrWrongTypedFieldIs400WithField() throws {
        let missing = try send("POST", "/v1/networks", json: #"{"name": "blue"}"#)
        XCTAssertEqual(missing.status, 400)
        let error = try errorBody(missing)
        XCTAssertEqual(error.code, "invalid_field")
        XCTAssertEqual(error.field, "subnet")
        XCTAssertTrue(error.message.contains("subnet"), error.message)

        let wrongType = try send("POST", "/v1/networks", json: #"{"name": "blue", "subnet": "10.1.0.0/24", "mtu": "big"}"#)
        XCTAssertEqual(wrongType.status, 400)
        XCTAssertEqual(try errorBody(wrongType).field, "mtu")

        let fraction = try send("POST", "/v1/networks", json: #"{"name": "blue", "subnet": "10.1.0.0/24", "mtu": 1500.5}"#)
        XCTAssertEqual(try errorBody(fraction).field, "mtu")

        let null = try send("POST", "/v1/attachments", json: #"{"containerId": null, "netns": "/x", "network": "n"}"#)
        XCTAssertEqual(try errorBody(null).field, "containerId")

        let badValue = try send("POST", "/v1/networks", json: #"{"name": "blue", "subnet": "10.1.0.9/24"}"#)
        let badValueError = try errorBody(badValue)
        XCTAssertEqual(badValueError.field, "subnet")
        XCTAssertTrue(badValueError.message.contains("10.1.0.0/24"), badValueError.message)
    }

    func testUnknownRouteIs404AndWrongMethodIs405() throws {
        let unknown = try send("GET", "/v1/bogus")
        XCTAssertEqual(unknown.status, 404)
        XCTAssertEqual(try errorBody(unknown).code, "not_found")
        XCTAssertEqual(try send("GET", "/").status, 404)
        XCTAssertEqual(try send("GET", "/v2/health").status, 404)

        let wrongMethod = try send("PUT", "/v1/networks", json: "{}")
        XCTAssertEqual(wrongMethod.status, 405)
        XCTAssertEqual(try errorBody(wrongMethod).code, "method_not_allowed")
        XCTAssertEqual(wrongMethod.header("allow"), "GET, POST")
    }

    func testNetworkCreateListGetDeleteAndDuplicate() throws {
        let created = try send("POST", "/v1/networks", json: #"{"name": "blue", "subnet": "10.1.0.0/24", "mtu": 1400}"#)
        XCTAssertEqual(created.status, 201)
        XCTAssertEqual(created.bodyText,
                       #"{"bridgeDomain":1,"learnLimit":4096,"macAgeSeconds":300,"masquerade":false,"mtu":1400,"name":"blue","subnet":"10.1.0.0/24"}"#)

        let duplicate = try send("POST", "/v1/networks", json: #"{"name": "blue", "subnet": "10.2.0.0/24"}"#)
        XCTAssertEqual(duplicate.status, 409)
        XCTAssertEqual(try errorBody(duplicate).code, "network_exists")

        let list = try send("GET", "/v1/networks")
        XCTAssertEqual(list.status, 200)
        let networks = try JSONDecoder().decode([NetworkInfo].self, from: Data(list.body))
        XCTAssertEqual(networks.map(\.name), ["blue"])

        XCTAssertEqual(try send("GET", "/v1/networks/blue").status, 200)
        let deleted = try send("DELETE", "/v1/networks/blue")
        XCTAssertEqual(deleted.status, 204)
        XCTAssertEqual(deleted.body, [])
        XCTAssertEqual(try send("GET", "/v1/networks/blue").status, 404)
        XCTAssertEqual(try send("DELETE", "/v1/networks/blue").status, 404)
        XCTAssertEqual(try send("GET", "/v1/networks").bodyText, "[]")
    }

    func testAttachmentLifecycleOverHTTP() throws {
        XCTAssertEqual(try send("POST", "/v1/networks", json: #"{"name": "blue", "subnet": "10.1.0.0/24"}"#).status, 201)
        let netns = fixture.addNamespace("c1")
        let created = try send("POST", "/v1/attachments",
                               json: #"{"containerId": "c1", "netns": "\#(netns)", "network": "blue"}"#)
        XCTAssertEqual(created.status, 201, created.bodyText)
        let attachment = try JSONDecoder().decode(AttachmentInfo.self, from: Data(created.body))
        XCTAssertEqual(attachment.address, "10.1.0.2/24")
        XCTAssertEqual(attachment.ifName, "eth0")
        XCTAssertEqual(attachment.swIfIndex, 1)

        let again = try send("POST", "/v1/attachments",
                             json: #"{"containerId": "c1", "netns": "\#(netns)", "network": "blue"}"#)
        XCTAssertEqual(again.status, 409)
        XCTAssertEqual(try errorBody(again).code, "attachment_exists")

        let badNetns = try send("POST", "/v1/attachments",
                                json: #"{"containerId": "c2", "netns": "/var/run/netns/nope", "network": "blue"}"#)
        XCTAssertEqual(badNetns.status, 400)
        XCTAssertEqual(try errorBody(badNetns).field, "netns")

        XCTAssertEqual(try send("GET", "/v1/attachments/c1/eth0").status, 200)
        XCTAssertEqual(try send("POST", "/v1/attachments/c1/eth0/refresh").status, 200)
        XCTAssertEqual(try send("GET", "/v1/attachments/c1/eth0/refresh").status, 405)
        XCTAssertEqual(try errorBody(try send("POST", "/v1/attachments/c9/eth0/refresh")).code, "attachment_not_found")
        XCTAssertEqual(try send("DELETE", "/v1/networks/blue").status, 409)
        XCTAssertEqual(try send("DELETE", "/v1/attachments/c1/eth0").status, 204)
        let gone = try send("DELETE", "/v1/attachments/c1/eth0")
        XCTAssertEqual(gone.status, 404)
        XCTAssertEqual(try errorBody(gone).code, "attachment_not_found")
        XCTAssertEqual(try send("GET", "/v1/attachments").bodyText, "[]")
    }

    func testSubnetExhaustedIs409() throws {
        XCTAssertEqual(try send("POST", "/v1/networks", json: #"{"name": "tiny", "subnet": "10.1.0.0/30"}"#).status, 201)
        for container in ["a", "b"] { _ = fixture.addNamespace(container) }
        XCTAssertEqual(try send("POST", "/v1/attachments",
                                json: #"{"containerId": "a", "netns": "/var/run/netns/a", "network": "tiny"}"#).status, 201)
        let exhausted = try send("POST", "/v1/attachments",
                                 json: #"{"containerId": "b", "netns": "/var/run/netns/b", "network": "tiny"}"#)
        XCTAssertEqual(exhausted.status, 409)
        XCTAssertEqual(try errorBody(exhausted).code, "subnet_exhausted")
    }

    func testRefusalsAreCountedAsApiErrorCounters() throws {
        func apiCounters() throws -> [String: UInt64] {
            let all = try JSONDecoder().decode([ErrorCounterInfo].self, from: Data(try send("GET", "/v1/errors").body))
            return Dictionary(uniqueKeysWithValues: all.filter { $0.node == "api" }.map { ($0.name, $0.count) })
        }
        let before = try apiCounters()
        XCTAssertEqual(before["bad-request"], 0, "every reason is listed, zeros included")
        XCTAssertEqual(try send("POST", "/v1/networks", json: "{").status, 400)
        XCTAssertEqual(try send("POST", "/v1/networks", json: #"{"name": "n"}"#).status, 400)
        XCTAssertEqual(try send("GET", "/v1/bogus").status, 404)
        XCTAssertEqual(try send("PUT", "/v1/networks", json: "{}").status, 405)
        XCTAssertEqual(try send("POST", "/v1/networks", json: #"{"name": "blue", "subnet": "10.1.0.0/24"}"#).status, 201)
        XCTAssertEqual(try send("POST", "/v1/networks", json: #"{"name": "blue", "subnet": "10.1.0.0/24"}"#).status, 409)
        // Refused by the HTTP parser, before any router: counted too.
        XCTAssertEqual(try client.send(method: "GET", path: "/v1/health",
                                       extraHeaders: [("X-Padding", String(repeating: "y", count: 20_000))]).status, 431)
        let fd = try UnixSocket.connect(path: socketPath, timeoutSeconds: 5)
        try UnixSocket.writeAll(fd, Array("NOT HTTP AT ALL\r\n\r\n".utf8))
        XCTAssertEqual(try UnixHTTPClient.parse(try UnixSocket.readToEnd(fd)).status, 400)
        close(fd)
        let after = try apiCounters()
        XCTAssertEqual(after["headers-too-large"], 1)
        XCTAssertEqual(after["bad-request"], 3)
        XCTAssertEqual(after["not-found"], 1)
        XCTAssertEqual(after["method-not-allowed"], 1)
        XCTAssertEqual(after["conflict"], 1)
        XCTAssertEqual(after["forbidden"], 0)
        XCTAssertEqual(server.refusals["bad-request"], 3, "the server and GET /v1/errors read one set of counts")
    }

    func testDataplaneViews() throws {
        XCTAssertEqual(try send("POST", "/v1/networks", json: #"{"name": "blue", "subnet": "10.1.0.0/24"}"#).status, 201)
        XCTAssertEqual(try send("GET", "/v1/interfaces").status, 200)
        let runtime = try JSONDecoder().decode([NodeRuntimeInfo].self, from: Data(try send("GET", "/v1/runtime").body))
        XCTAssertEqual(runtime.first?.vectorsPerCall, 4)
        XCTAssertEqual(try send("POST", "/v1/runtime/clear").status, 204)
        XCTAssertEqual(try send("GET", "/v1/errors").status, 200)

        let summary = try JSONDecoder().decode([BridgeDomainInfo].self,
                                               from: Data(try send("GET", "/v1/bridge-domains").body))
        XCTAssertEqual(summary.map(\.id), [1])
        XCTAssertNil(summary.first?.macs)
        let detail = try JSONDecoder().decode(BridgeDomainInfo.self,
                                              from: Data(try send("GET", "/v1/bridge-domains/1?detail=true").body))
        XCTAssertEqual(detail.macs, [])
        XCTAssertEqual(try send("GET", "/v1/bridge-domains/2").status, 404)
        XCTAssertEqual(try send("GET", "/v1/bridge-domains/x").status, 400)
        XCTAssertEqual(try errorBody(try send("GET", "/v1/bridge-domains?detail=maybe")).field, "detail")
    }

    func testTrace() throws {
        XCTAssertEqual(try send("POST", "/v1/trace", json: #"{"node": "af-packet-input", "count": 10}"#).status, 204)
        let unknown = try send("POST", "/v1/trace", json: #"{"node": "nope", "count": 10}"#)
        XCTAssertEqual(unknown.status, 404)
        XCTAssertEqual(try errorBody(unknown).code, "node_not_found")
        let notInput = try send("POST", "/v1/trace", json: #"{"node": "l2-input", "count": 10}"#)
        XCTAssertEqual(notInput.status, 400)
        XCTAssertEqual(try errorBody(notInput).code, "not_input_node")
        XCTAssertEqual(try errorBody(try send("POST", "/v1/trace", json: #"{"node": "af-packet-input", "count": 0}"#)).field,
                       "count")
        XCTAssertEqual(try send("GET", "/v1/trace").status, 200)
        XCTAssertEqual(try send("DELETE", "/v1/trace").status, 204)
    }

    func testOversizedBodyIs413() throws {
        let padding = String(repeating: "x", count: 1_100_000)
        let response = try send("POST", "/v1/networks", json: #"{"name": "\#(padding)", "subnet": "10.1.0.0/24"}"#)
        XCTAssertEqual(response.status, 413)
        XCTAssertEqual(try errorBody(response).code, "body_too_large")
    }

    func testOversizedHeadersAreRejected() throws {
        let response = try client.send(method: "GET", path: "/v1/health",
                                       extraHeaders: [("X-Padding", String(repeating: "y", count: 20_000))])
        XCTAssertEqual(response.status, 431)
        XCTAssertEqual(try errorBody(response).code, "headers_too_large")
    }

    func testGarbageRequestGetsAJSON400() throws {
        let fd = try UnixSocket.connect(path: socketPath, timeoutSeconds: 5)
        defer { close(fd) }
        try UnixSocket.writeAll(fd, Array("NOT HTTP AT ALL\r\n\r\n".utf8))
        let response = try UnixHTTPClient.parse(try UnixSocket.readToEnd(fd))
        XCTAssertEqual(response.status, 400)
    }

    func testStaleSocketIsReplacedButALiveOneIsNot() throws {
        // A second server on the same path must refuse: the first is alive.
        let rival = APIServer(socketPath: socketPath, networks: fixture.networks, attachments: fixture.attachments,
                              dataplane: fixture.dataplane, executor: executor, log: ControlFixture.quietLog)
        XCTAssertThrowsError(try rival.start()) { error in
            XCTAssertTrue("\(error)".contains("already serving"), "\(error)")
        }
        XCTAssertEqual(try send("GET", "/v1/health").status, 200, "the live server keeps its socket")

        // Simulate kill -9: a socket file nobody listens on.
        server.stop()
        let stalePath = socketPath
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: Array(stalePath.utf8) + [0])
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        XCTAssertEqual(bound, 0)
        close(fd)
        XCTAssertTrue(FileManager.default.fileExists(atPath: stalePath))

        server = APIServer(socketPath: socketPath, networks: fixture.networks, attachments: fixture.attachments,
                           dataplane: fixture.dataplane, executor: executor, log: ControlFixture.quietLog)
        try server.start()
        XCTAssertEqual(try send("GET", "/v1/health").status, 200)
    }

    func testARegularFileAtTheSocketPathIsNotDeleted() throws {
        let path = fixture.directory + "/not-a-socket"
        XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: Data("keep me".utf8)))
        let other = APIServer(socketPath: path, networks: fixture.networks, attachments: fixture.attachments,
                              dataplane: fixture.dataplane, executor: executor, log: ControlFixture.quietLog)
        XCTAssertThrowsError(try other.start())
        XCTAssertEqual(FileManager.default.contents(atPath: path), Data("keep me".utf8))
    }

    func testConcurrentClientsAreServedOneAtATimeOnTheControlThread() throws {
        final class Statuses: @unchecked Sendable {
            private let lock = NSLock()
            private var values: [Int] = []
            func append(_ value: Int) { lock.lock(); values.append(value); lock.unlock() }
            var all: [Int] { lock.lock(); defer { lock.unlock() }; return values }
        }
        let group = DispatchGroup()
        let results = Statuses()
        for index in 0..<20 {
            group.enter()
            DispatchQueue.global().async { [client] in
                let status = (try? client!.send(method: "POST", path: "/v1/networks",
                                                body: Array(#"{"name": "n\#(index)", "subnet": "10.\#(index).0.0/24"}"#.utf8)))?.status ?? -1
                results.append(status)
                group.leave()
            }
        }
        XCTAssertEqual(group.wait(timeout: .now() + 30), .success)
        XCTAssertEqual(results.all.filter { $0 == 201 }.count, 20, "\(results.all)")
        // Bridge domains were allocated without collisions.
        XCTAssertEqual(Set(try fixture.networks.list().map(\.bridgeDomain)).count, 20)
    }
}
