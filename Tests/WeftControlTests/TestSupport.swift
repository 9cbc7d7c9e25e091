import Foundation
import XCTest
@testable import WeftControl

/// A fresh directory under /tmp, removed when the test ends. Kept short:
/// unix socket paths must fit in 108 bytes.
func makeTemporaryDirectory(_ test: XCTestCase) throws -> String {
    let path = "/tmp/weft-test-" + String(UUID().uuidString.prefix(8))
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    test.addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
    return path
}

/// Store, fakes and services wired as weftd wires the real ones.
struct ControlFixture {
    let directory: String
    let store: StateStore
    let dataplane = FakeDataplane()
    let provisioner = FakeVethProvisioner()
    let networks: NetworkService
    let attachments: AttachmentService
    let hostInterfaces: HostInterfaceService
    static let quietLog = WeftLogger(level: .error)

    init(_ test: XCTestCase) throws {
        directory = try makeTemporaryDirectory(test)
        store = try StateStore(path: directory + "/state/state.db")
        networks = NetworkService(store: store, dataplane: dataplane, log: Self.quietLog)
        attachments = AttachmentService(store: store, dataplane: dataplane, provisioner: provisioner, log: Self.quietLog)
        hostInterfaces = HostInterfaceService(store: store, dataplane: dataplane, provisioner: provisioner,
                                              log: Self.quietLog)
    }

    /// A netns path the fake provisioner treats as existing.
    func addNamespace(_ name: String) -> String {
        let path = "/var/run/netns/\(name)"
        provisioner.namespaces.insert(path)
        return path
    }
}

func XCTAssertControlError(_ expression: @autoclosure () throws -> Any, code: String, field: String? = nil,
                           status: Int? = nil, file: StaticString = #filePath, line: UInt = #line) {
    do {
        _ = try expression()
        XCTFail("expected ControlError \(code), got success", file: file, line: line)
    } catch let error as ControlError {
        XCTAssertEqual(error.code, code, error.message, file: file, line: line)
        if let field { XCTAssertEqual(error.field, field, file: file, line: line) }
        if let status { XCTAssertEqual(error.httpStatus, status, file: file, line: line) }
    } catch {
        XCTFail("expected ControlError \(code), got \(error)", file: file, line: line)
    }
}

/// Base for tests that drive the HTTP API through a real unix socket, with
/// the fake dataplane and kernel: a started server over a fresh fixture, and
/// a client for it. Subclasses add their own setup after `super`.
class APITestCase: XCTestCase {
    var fixture: ControlFixture!
    var executor: ControlExecutor!
    var server: APIServer!
    var client: UnixHTTPClient!
    var socketPath: String { fixture.directory + "/run/weft.sock" }

    override func setUpWithError() throws {
        try super.setUpWithError()
        fixture = try ControlFixture(self)
        executor = ControlExecutor()
        server = APIServer(socketPath: socketPath, networks: fixture.networks, attachments: fixture.attachments,
                           hostInterfaces: fixture.hostInterfaces, dataplane: fixture.dataplane, executor: executor,
                           log: ControlFixture.quietLog)
        try server.start()
        client = UnixHTTPClient(socketPath: socketPath, timeoutSeconds: 10)
    }

    override func tearDown() {
        server?.stop()
        executor?.shutdown()
        super.tearDown()
    }

    func send(_ method: String, _ path: String, json: String? = nil) throws -> UnixHTTPClient.Response {
        try client.send(method: method, path: path, body: json.map { Array($0.utf8) })
    }
}
