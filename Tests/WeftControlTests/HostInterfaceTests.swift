import Foundation
import GRDB
import XCTest
@testable import WeftControl

/// `POST /v1/interfaces` and `DELETE /v1/interfaces/{name}` through a real
/// unix socket, with the fake dataplane and kernel.
final class HostInterfaceAPITests: APITestCase {
    override func setUpWithError() throws {
        try super.setUpWithError()
        XCTAssertEqual(try send("POST", "/v1/networks", json: #"{"name": "bench", "subnet": "10.1.0.0/24"}"#).status, 201)
    }

    private func add(_ name: String, network: String = "bench") throws -> UnixHTTPClient.Response {
        let body = try APIJSON.encode(AddInterfaceRequest(name: name, network: network))
        return try client.send(method: "POST", path: "/v1/interfaces", body: body)
    }

    /// Asserts an error response and returns its body.
    @discardableResult
    private func assertError(_ response: UnixHTTPClient.Response, status: Int, code: String, field: String? = nil,
                             file: StaticString = #filePath, line: UInt = #line) throws -> ErrorResponse.Detail {
        XCTAssertEqual(response.status, status, response.bodyText, file: file, line: line)
        XCTAssertEqual(response.header("content-type"), "application/json", file: file, line: line)
        let error = try JSONDecoder().decode(ErrorResponse.self, from: Data(response.body)).error
        XCTAssertEqual(error.code, code, error.message, file: file, line: line)
        XCTAssertEqual(error.field, field, error.message, file: file, line: line)
        return error
    }

    func testAddAndDelete() throws {
        fixture.provisioner.hostLinks = ["d0", "d1"]
        let created = try add("d0")
        XCTAssertEqual(created.status, 201, created.bodyText)
        let info = try JSONDecoder().decode(InterfaceInfo.self, from: Data(created.body))
        XCTAssertEqual(info.name, "d0")
        XCTAssertEqual(info.bridgeDomain, 1)
        XCTAssertEqual(info.driver, "af-packet")
        XCTAssertEqual([info], fixture.dataplane.interfaces(), "the answer is the dataplane's own view")
        XCTAssertEqual(try add("d1").status, 201)

        let listed = try JSONDecoder().decode([InterfaceInfo].self, from: Data(try send("GET", "/v1/interfaces").body))
        XCTAssertEqual(listed.map(\.name), ["d0", "d1"])
        XCTAssertEqual(try fixture.store.hostInterfaces().map(\.name), ["d0", "d1"])
        XCTAssertEqual(try fixture.store.hostInterface(named: "d0")?.network, "bench")

        let deleted = try send("DELETE", "/v1/interfaces/d0")
        XCTAssertEqual(deleted.status, 204, deleted.bodyText)
        XCTAssertEqual(deleted.body, [])
        XCTAssertEqual(Array(fixture.dataplane.interfacesByName.keys), ["d1"])
        XCTAssertEqual(try fixture.store.hostInterfaces().map(\.name), ["d1"])
        XCTAssertEqual(fixture.provisioner.deleted, [], "weftd never deletes a link it did not create")
        XCTAssertTrue(fixture.provisioner.linkExists("d0"))

        try assertError(try send("DELETE", "/v1/interfaces/d0"), status: 404, code: "interface_not_found")
        // Deleted interfaces can be added again.
        XCTAssertEqual(try add("d0").status, 201)
    }

    func testUnknownNetworkIs404() throws {
        fixture.provisioner.hostLinks = ["d0"]
        try assertError(try add("d0", network: "nope"), status: 404, code: "network_not_found", field: "network")
        try assertError(try add("d0", network: "Not-A-Name"), status: 400, code: "invalid_field", field: "network")
        XCTAssertEqual(fixture.dataplane.interfacesByName, [:])
        XCTAssertEqual(try fixture.store.hostInterfaces(), [])
    }

    func testALinkMissingFromWeftdsNamespaceIs400() throws {
        let error = try assertError(try add("d9"), status: 400, code: "link_not_found", field: "name")
        XCTAssertTrue(error.message.contains("weftd's network namespace"), error.message)
        XCTAssertFalse(fixture.dataplane.calls.contains { $0.hasPrefix("addAfPacketInterface") })
        XCTAssertEqual(try fixture.store.hostInterfaces(), [])
    }

    func testInvalidNamesAre400() throws {
        let invalid = ["", ".", "..", "a/b", "a:b", "a b", "tab\tx", "sixteen-chars-xx", "nl\n"]
        for name in invalid {
            fixture.provisioner.hostLinks.insert(name)
            try assertError(try add(name), status: 400, code: "invalid_field", field: "name")
        }
        // The kernel's rules, not the stricter container-ifName ones: 15 bytes and '@', '+' are fine.
        for name in ["fifteen-chars-x", "eth0.100", "veth@x+1"] {
            fixture.provisioner.hostLinks.insert(name)
            XCTAssertEqual(try add(name).status, 201, name)
        }
        try assertError(try send("POST", "/v1/interfaces", json: #"{"name": "d0"}"#),
                        status: 400, code: "invalid_field", field: "network")
        try assertError(try send("POST", "/v1/interfaces", json: #"{"name": 7, "network": "bench"}"#),
                        status: 400, code: "invalid_field", field: "name")
    }

    func testAddingTwiceIs409() throws {
        fixture.provisioner.hostLinks = ["d0"]
        XCTAssertEqual(try add("d0").status, 201)
        XCTAssertEqual(try send("POST", "/v1/networks", json: #"{"name": "other", "subnet": "10.2.0.0/24"}"#).status, 201)
        try assertError(try add("d0", network: "other"), status: 409, code: "interface_exists", field: "name")
        XCTAssertEqual(fixture.dataplane.interfacesByName["d0"]?.bridgeDomain, 1)
    }

    func testAnInterfaceAlreadyInTheDataplaneIs409() throws {
        fixture.provisioner.hostLinks = ["d0"]
        fixture.dataplane.interfacesByName["d0"] = .init(index: 7, bridgeDomain: 1)
        try assertError(try add("d0"), status: 409, code: "interface_exists", field: "name")
        XCTAssertEqual(try fixture.store.hostInterfaces(), [])
    }

    func testAnAttachmentsHostVethIs409OnAddAndDelete() throws {
        let netns = fixture.addNamespace("c1")
        let attachment = try fixture.attachments.attach(
            CreateAttachmentRequest(containerId: "c1", netns: netns, network: "bench"))
        let host = attachment.hostIfName

        try assertError(try add(host), status: 409, code: "interface_is_attachment", field: "name")

        let refused = try send("DELETE", "/v1/interfaces/\(host)")
        let error = try assertError(refused, status: 409, code: "interface_is_attachment")
        XCTAssertTrue(error.message.contains("weftctl detach --container c1 --ifname eth0"), error.message)
        XCTAssertNotNil(fixture.dataplane.interfacesByName[host], "the attachment keeps its interface")
        XCTAssertNotNil(try fixture.store.attachment(containerId: "c1", ifName: "eth0"))
    }

    func testAnAttachWhoseHostNameIsAHostInterfaceIsRefusedAndLeavesTheLinkAlone() throws {
        let host = InterfaceIdentity.hostIfName(containerId: "c1", ifName: "eth0")
        fixture.provisioner.hostLinks = [host]
        XCTAssertEqual(try add(host).status, 201)
        let netns = fixture.addNamespace("c1")
        let response = try send("POST", "/v1/attachments",
                                json: #"{"containerId": "c1", "netns": "\#(netns)", "network": "bench"}"#)
        try assertError(response, status: 409, code: "host_interface_taken", field: "ifName")
        XCTAssertEqual(fixture.provisioner.deleted, [])
        XCTAssertNotNil(fixture.dataplane.interfacesByName[host])
    }

    func testADataplaneFailureLeavesNoRecord() throws {
        fixture.provisioner.hostLinks = ["d0"]
        fixture.dataplane.failAddInterface = .system("socket(AF_PACKET): Operation not permitted")
        let error = try assertError(try add("d0"), status: 500, code: "dataplane_error")
        XCTAssertTrue(error.message.contains("Operation not permitted"), error.message)
        XCTAssertEqual(try fixture.store.hostInterfaces(), [])
    }

    func testANetworkWithHostInterfacesCannotBeDeleted() throws {
        fixture.provisioner.hostLinks = ["d0"]
        XCTAssertEqual(try add("d0").status, 201)
        let error = try assertError(try send("DELETE", "/v1/networks/bench"), status: 409, code: "network_in_use")
        XCTAssertTrue(error.message.contains("1 host interface(s)"), error.message)
        XCTAssertNotNil(fixture.dataplane.bridgeDomainsByID[1])

        // Also when the interface is only a record (its link vanished before a restart).
        fixture.dataplane.interfacesByName = [:]
        try assertError(try send("DELETE", "/v1/networks/bench"), status: 409, code: "network_in_use")
        XCTAssertControlError(try fixture.store.deleteNetwork(named: "bench"), code: "network_in_use", status: 409)

        XCTAssertEqual(try send("DELETE", "/v1/interfaces/d0").status, 204, "a missing dataplane interface is skipped")
        XCTAssertEqual(try send("DELETE", "/v1/networks/bench").status, 204)
    }

    func testMethods() throws {
        let wrong = try send("GET", "/v1/interfaces/d0")
        XCTAssertEqual(wrong.status, 405)
        XCTAssertEqual(wrong.header("allow"), "DELETE")
        XCTAssertEqual(try send("PUT", "/v1/interfaces", json: "{}").header("allow"), "GET, POST")
    }
}

final class HostInterfaceStateTests: XCTestCase {
    func testHostInterfacesSurviveReopeningTheStore() throws {
        let directory = try makeTemporaryDirectory(self)
        let path = directory + "/state.db"
        let created = Date(timeIntervalSince1970: 1_700_000_000)
        do {
            let store = try StateStore(path: path)
            _ = try store.createNetwork(name: "bench", subnet: "10.1.0.0/24", mtu: 1500, bridgeDomain: 10,
                                        macAgeSeconds: 300, learnLimit: 4096)
            _ = try store.createHostInterface(name: "d0", network: "bench", createdAt: created)
            _ = try store.createHostInterface(name: "d1", network: "bench", createdAt: created)
            XCTAssertTrue(try store.deleteHostInterface(named: "d1"))
            XCTAssertFalse(try store.deleteHostInterface(named: "d1"))
        }
        let reopened = try StateStore(path: path)
        XCTAssertEqual(try reopened.hostInterfaces(), [HostInterfaceRecord(name: "d0", network: "bench", createdAt: created)])
        XCTAssertEqual(try reopened.hostInterfaceCount(network: "bench"), 1)
    }

    func testTheStoreRefusesConflictsInItsOwnTransaction() throws {
        let fixture = try ControlFixture(self)
        _ = try fixture.store.createNetwork(name: "bench", subnet: "10.1.0.0/24", mtu: 1500, bridgeDomain: nil,
                                            macAgeSeconds: 300, learnLimit: 4096)
        let attachment = try fixture.store.createAttachment(containerId: "c1", ifName: "eth0", network: "bench",
                                                            netns: "/n", mtu: nil)
        _ = try fixture.store.createHostInterface(name: "d0", network: "bench")
        XCTAssertControlError(try fixture.store.createHostInterface(name: "d0", network: "bench"),
                              code: "interface_exists", field: "name", status: 409)
        XCTAssertControlError(try fixture.store.createHostInterface(name: attachment.hostIfName, network: "bench"),
                              code: "interface_is_attachment", field: "name", status: 409)
        XCTAssertControlError(try fixture.store.createHostInterface(name: "d1", network: "nope"),
                              code: "network_not_found", field: "network", status: 404)
    }

    /// A state.db written before host interfaces existed gains the table and keeps its data.
    func testAVersion1DatabaseIsMigratedInPlace() throws {
        let directory = try makeTemporaryDirectory(self)
        let path = directory + "/state.db"
        do {
            let old = try DatabaseQueue(path: path)
            try StateMigrations.migrator.migrate(old, upTo: "v1-networks-attachments-leases")
            try old.write { db in
                // Raw SQL: today's NetworkRecord has columns a v1 table lacks.
                try db.execute(sql: """
                    INSERT INTO networks (name, bridge_domain, subnet, mtu, mac_age_seconds, learn_limit, created_at)
                    VALUES ('bench', 3, '10.1.0.0/24', 1500, 300, 4096, '2026-01-01 00:00:00.000')
                    """)
            }
        }
        let store = try StateStore(path: path)
        XCTAssertEqual(try store.networks().map(\.name), ["bench"])
        XCTAssertNil(try store.networks().first?.vni, "columns added by later migrations read as absent")
        XCTAssertEqual(try store.hostInterfaces(), [])
        _ = try store.createHostInterface(name: "d0", network: "bench")
        XCTAssertEqual(try store.hostInterfaces().map(\.name), ["d0"])
    }
}

final class HostInterfaceReconcileTests: XCTestCase {
    /// Adds two host interfaces, then "restarts" weftd: a new store on the
    /// same file, a new dataplane, and a kernel where only d0 still exists.
    func testRestartReopensExistingLinksAndReportsMissingOnes() throws {
        let before = try ControlFixture(self)
        _ = try before.networks.create(CreateNetworkRequest(name: "bench", subnet: "10.1.0.0/24", bridgeDomain: 10))
        before.provisioner.hostLinks = ["d0", "d1"]
        for name in ["d0", "d1"] {
            _ = try before.hostInterfaces.add(AddInterfaceRequest(name: name, network: "bench"))
        }

        let store = try StateStore(path: before.store.path)
        let dataplane = FakeDataplane()
        let kernel = FakeVethProvisioner()
        kernel.hostLinks = ["d0"]
        let report = try Reconciler(store: store, dataplane: dataplane, provisioner: kernel,
                                    log: ControlFixture.quietLog).run()

        XCTAssertEqual(report.hostInterfacesReopened, ["d0"])
        XCTAssertEqual(report.hostInterfacesMissing, ["d1"])
        XCTAssertEqual(report.failures, [])
        XCTAssertTrue(report.summary.contains("host interfaces: 1 reopened, 1 missing"), report.summary)
        XCTAssertEqual(dataplane.interfacesByName.mapValues(\.bridgeDomain), ["d0": 10])
        XCTAssertEqual(try store.hostInterfaces().map(\.name), ["d0", "d1"], "a missing link keeps its record")
        XCTAssertTrue(kernel.created.isEmpty, "weftd never creates a host interface's link")

        // The missing one can still be deleted, and the next start no longer reports it.
        let service = HostInterfaceService(store: store, dataplane: dataplane, provisioner: kernel,
                                           log: ControlFixture.quietLog)
        try service.delete(name: "d1")
        XCTAssertEqual(try store.hostInterfaces().map(\.name), ["d0"])
        let again = try Reconciler(store: store, dataplane: FakeDataplane(), provisioner: kernel,
                                   log: ControlFixture.quietLog).run()
        XCTAssertEqual(again.hostInterfacesReopened, ["d0"])
        XCTAssertEqual(again.hostInterfacesMissing, [])
    }

    func testAHostInterfaceWhoseNetworkFailedIsAFailureAndKept() throws {
        let before = try ControlFixture(self)
        _ = try before.networks.create(CreateNetworkRequest(name: "bench", subnet: "10.1.0.0/24"))
        before.provisioner.hostLinks = ["d0"]
        _ = try before.hostInterfaces.add(AddInterfaceRequest(name: "d0", network: "bench"))

        let dataplane = FakeDataplane()
        dataplane.failCreateBridgeDomain = .system("no memory")
        let report = try Reconciler(store: before.store, dataplane: dataplane, provisioner: before.provisioner,
                                    log: ControlFixture.quietLog).run()
        XCTAssertEqual(report.hostInterfacesReopened, [])
        XCTAssertEqual(report.failures.count, 2, "\(report.failures)")
        XCTAssertTrue(report.failures.contains { $0.hasPrefix("host interface d0:") }, "\(report.failures)")
        XCTAssertEqual(try before.store.hostInterfaces().map(\.name), ["d0"])
    }
}
