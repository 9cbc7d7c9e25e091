import Foundation
import XCTest
@testable import WeftControl

/// Control socket access (APIAccess.swift): who may connect, body limits per
/// path, the request timeout; the pure rules first, then through a socket.
final class APIAccessTests: XCTestCase {
    // MARK: peer policy

    func testRootAndWeftdsOwnUserAreAllowedOthersRefused() {
        let policy = APIAccessPolicy(ownUID: 1000, group: nil, isMember: { _, _ in XCTFail("no group configured"); return false })
        XCTAssertNil(policy.refusal(PeerCredentials(pid: 1, uid: 0, gid: 0)))
        XCTAssertNil(policy.refusal(PeerCredentials(pid: 2, uid: 1000, gid: 1000)))
        let reason = policy.refusal(PeerCredentials(pid: 3, uid: 65534, gid: 65534))
        XCTAssertNotNil(reason)
        XCTAssertTrue(reason!.contains("uid 65534 (pid 3)"), reason!)
        XCTAssertTrue(reason!.contains("api_group"), reason!)
    }

    func testGroupMembersByPrimaryOrSupplementaryGroupAreAllowed() {
        let policy = APIAccessPolicy(ownUID: 0, group: 4242, isMember: { uid, gid in uid == 2001 && gid == 4242 })
        XCTAssertNil(policy.refusal(PeerCredentials(pid: 1, uid: 2000, gid: 4242)), "primary group")
        XCTAssertNil(policy.refusal(PeerCredentials(pid: 1, uid: 2001, gid: 100)), "supplementary group")
        XCTAssertNotNil(policy.refusal(PeerCredentials(pid: 1, uid: 2002, gid: 100)))
    }

    func testGroupsResolveByNameOrNumber() {
        XCTAssertEqual(APIAccessPolicy.resolveGroup("root"), 0)
        XCTAssertEqual(APIAccessPolicy.resolveGroup("4242"), 4242)
        XCTAssertNil(APIAccessPolicy.resolveGroup("no-such-group-weft"))
    }

    func testPeerCredentialsMatchTheKernelsStructUcred() {
        XCTAssertEqual(MemoryLayout<PeerCredentials>.size, 12)
        XCTAssertEqual(MemoryLayout<PeerCredentials>.offset(of: \.uid), 4)
        XCTAssertEqual(MemoryLayout<PeerCredentials>.offset(of: \.gid), 8)
    }

    // MARK: limits

    func testBodyLimitIsPerPath() {
        let limits = APILimits(maxBodyBytes: 1 << 20, maxBulkBodyBytes: 64 << 20)
        XCTAssertEqual(limits.maxBody(forTarget: "/v1/routes/bulk"), 64 << 20)
        XCTAssertEqual(limits.maxBody(forTarget: "/v1/routes/bulk?x=1"), 64 << 20)
        XCTAssertEqual(limits.maxBody(forTarget: "/v1/routes/bulk/"), 64 << 20)
        XCTAssertEqual(limits.maxBody(forTarget: "/v1/routes"), 1 << 20)
        XCTAssertEqual(limits.maxBody(forTarget: "/v1/networks"), 1 << 20)
        XCTAssertEqual(limits.maxBody(forTarget: ""), 1 << 20)
        // A bulk limit below the general one lowers every path.
        XCTAssertEqual(APILimits(maxBodyBytes: 1 << 20, maxBulkBodyBytes: 4096).maxBody(forTarget: "/v1/networks"), 4096)
    }

    func testDefaultBulkLimitHoldsAMillionRoutes() {
        // One bulk entry as weftctl writes it, with a long next hop.
        let entry = #"{"nextHop":"192.168.100.200","prefix":"100.200.100.0/24"},"#
        XCTAssertGreaterThan(APILimits.defaultMaxBulkBodyBytes, 1_000_000 * entry.utf8.count)
    }

    func testRefusalsAreJSONErrorsNamingTheLimit() throws {
        let large = APILimits.tooLarge(limit: 1 << 20, target: "/v1/networks", announced: 2_000_000)
        XCTAssertEqual(large.status, 413)
        let detail = try JSONDecoder().decode(ErrorResponse.self, from: Data(large.body ?? [])).error
        XCTAssertEqual(detail.code, "body_too_large")
        XCTAssertTrue(detail.message.contains("1048576 bytes"), detail.message)
        XCTAssertTrue(detail.message.contains("api_max_body_bytes"), detail.message)

        let late = APILimits(requestTimeoutSeconds: 2.5).timedOut()
        XCTAssertEqual(late.status, 408)
        let lateDetail = try JSONDecoder().decode(ErrorResponse.self, from: Data(late.body ?? [])).error
        XCTAssertEqual(lateDetail.code, "request_timeout")
        XCTAssertTrue(lateDetail.message.contains("2.5 s"), lateDetail.message)

        let forbidden = APILimits.forbidden("uid 7 may not")
        XCTAssertEqual(forbidden.status, 403)
        XCTAssertEqual(try JSONDecoder().decode(ErrorResponse.self, from: Data(forbidden.body ?? [])).error.code, "forbidden")
    }

    func testConfigKeys() throws {
        let config = try WeftConfig.parse(yaml: "api_group: weft\napi_max_body_bytes: 134217728\napi_request_timeout: 2.5\n")
        XCTAssertEqual(config.apiGroup, "weft")
        XCTAssertEqual(config.apiMaxBodyBytes, 128 << 20)
        XCTAssertEqual(config.apiRequestTimeoutSeconds, 2.5)
        XCTAssertEqual(try WeftConfig.parse(yaml: "api_group: 4242").apiGroup, "4242")
        XCTAssertEqual(WeftConfig().apiMaxBodyBytes, 64 << 20)
        XCTAssertEqual(WeftConfig().apiRequestTimeoutSeconds, 10)
        XCTAssertThrowsError(try WeftConfig.parse(yaml: "api_max_body_bytes: 10"))
        XCTAssertThrowsError(try WeftConfig.parse(yaml: "api_request_timeout: 0"))
    }

    // MARK: through the socket

    private var fixture: ControlFixture!
    private var executor: ControlExecutor!
    private var server: APIServer!

    private func start(_ limits: APILimits, group: UInt32? = nil) throws -> String {
        fixture = try ControlFixture(self)
        executor = ControlExecutor()
        let path = fixture.directory + "/run/weft.sock"
        server = APIServer(socketPath: path, networks: fixture.networks, attachments: fixture.attachments,
                           dataplane: fixture.dataplane, executor: executor, limits: limits, group: group,
                           log: ControlFixture.quietLog)
        try server.start()
        return path
    }

    override func tearDown() {
        server?.stop()
        executor?.shutdown()
    }

    func testIncompleteRequestGets408AndIsClosed() throws {
        let path = try start(APILimits(requestTimeoutSeconds: 0.3))
        let fd = try UnixSocket.connect(path: path, timeoutSeconds: 5)
        defer { close(fd) }
        try UnixSocket.writeAll(fd, Array("POST /v1/networks HTTP/1.1\r\nHost: weft\r\nContent-Length: 100\r\n\r\n{\"na".utf8))
        let started = Date()
        let response = try UnixHTTPClient.parse(try UnixSocket.readToEnd(fd))
        XCTAssertEqual(response.status, 408)
        XCTAssertLessThan(Date().timeIntervalSince(started), 4)
        XCTAssertTrue(response.bodyText.contains("request_timeout"), response.bodyText)
        XCTAssertEqual(server.refusals["timeout"], 1)

        // A complete request on a fresh connection is not affected.
        let ok = try UnixHTTPClient(socketPath: path, timeoutSeconds: 5).send(method: "GET", path: "/v1/health")
        XCTAssertEqual(ok.status, 200)
    }

    func testHalfARequestLineGets408Too() throws {
        // No request head yet: the answer is written below NIO's HTTP pipeline handler.
        let path = try start(APILimits(requestTimeoutSeconds: 0.3))
        let fd = try UnixSocket.connect(path: path, timeoutSeconds: 5)
        defer { close(fd) }
        try UnixSocket.writeAll(fd, Array("GET /v1/hea".utf8))
        let response = try UnixHTTPClient.parse(try UnixSocket.readToEnd(fd))
        XCTAssertEqual(response.status, 408)
        XCTAssertEqual(response.header("content-type"), "application/json")
        XCTAssertTrue(response.bodyText.contains("request_timeout"), response.bodyText)
    }

    func testBulkPathTakesBodiesOverTheGeneralLimit() throws {
        let path = try start(APILimits(maxBodyBytes: 4096, maxBulkBodyBytes: 1 << 20))
        let client = UnixHTTPClient(socketPath: path, timeoutSeconds: 10)
        let body = Array(#"{"routes": [], "padding": ""#.utf8) + [UInt8](repeating: 0x20, count: 8000) + Array(#""}"#.utf8)
        let bulk = try client.send(method: "POST", path: "/v1/routes/bulk", body: body)
        XCTAssertNotEqual(bulk.status, 413, "8 KB is within the bulk limit: \(bulk.bodyText)")
        let network = try client.send(method: "POST", path: "/v1/networks", body: body)
        XCTAssertEqual(network.status, 413)
        XCTAssertTrue(network.bodyText.contains("4096 bytes"), network.bodyText)
        XCTAssertEqual(server.refusals["too-large"], 1)
    }

    func testSocketWithAGroupIsMode0660OwnedByIt() throws {
        let path = try start(.default, group: 4242)
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        XCTAssertEqual((attributes[.posixPermissions] as? NSNumber)?.intValue, 0o660)
        XCTAssertEqual((attributes[.groupOwnerAccountID] as? NSNumber)?.intValue, 4242)
    }
}
