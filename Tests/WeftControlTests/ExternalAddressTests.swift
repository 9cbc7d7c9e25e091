import Foundation
import GRDB
import XCTest
@testable import WeftControl

/// POST /v1/attachments with `address` (an address chosen by someone else,
/// e.g. a CNI IPAM plugin) and `gateway` (default route in the container).
final class ExternalAddressTests: XCTestCase {
    private var fixture: ControlFixture!
    private var netns = ""

    override func setUpWithError() throws {
        fixture = try ControlFixture(self)
        _ = try fixture.networks.create(CreateNetworkRequest(name: "blue", subnet: "10.1.0.0/24"))
        netns = fixture.addNamespace("c1")
    }

    private func request(_ container: String = "c1", ifName: String? = nil, address: String? = nil,
                         gateway: String? = nil) -> CreateAttachmentRequest {
        CreateAttachmentRequest(containerId: container, netns: netns, ifName: ifName, network: "blue",
                                address: address, gateway: gateway)
    }

    func testExternalAddressIsUsedAndRecordedWithoutALease() throws {
        let attachment = try fixture.attachments.attach(request(address: "10.1.0.7/24", gateway: "10.1.0.1"))
        XCTAssertEqual(attachment.address, "10.1.0.7/24")
        XCTAssertEqual(attachment.mac, "02:fe:0a:01:00:07")
        XCTAssertEqual(attachment.gateway, "10.1.0.1")
        XCTAssertEqual(attachment.ipam, .external)
        XCTAssertEqual(attachment.hostMac, "02:00:00:00:00:01")
        XCTAssertEqual(try fixture.store.allLeases(), [], "weftd leases nothing for an external address")

        let spec = try XCTUnwrap(fixture.provisioner.links[attachment.hostIfName])
        XCTAssertEqual(spec.address, "10.1.0.7")
        XCTAssertEqual(spec.prefixLength, 24)
        XCTAssertEqual(spec.gateway, "10.1.0.1")
        XCTAssertEqual(try fixture.attachments.get(containerId: "c1", ifName: "eth0"), attachment)

        // Without a prefix the subnet's is used.
        let bare = try fixture.attachments.attach(request(ifName: "net1", address: "10.1.0.8"))
        XCTAssertEqual(bare.address, "10.1.0.8/24")
        XCTAssertNil(bare.gateway)
    }

    func testWeftdsIPAMSkipsExternalAddressesAndLeasesTheRest() throws {
        _ = try fixture.attachments.attach(request(address: "10.1.0.2/24"))
        let leased = try fixture.attachments.attach(request(ifName: "net1"))
        XCTAssertEqual(leased.address, "10.1.0.3/24")
        XCTAssertEqual(leased.ipam, .weft)
        XCTAssertEqual(try fixture.store.allLeases().map(\.address), ["10.1.0.3"])
    }

    func testAnAddressInUseIsRefused() throws {
        _ = try fixture.attachments.attach(request(ifName: "eth0"))                      // leases .2
        _ = try fixture.attachments.attach(request(ifName: "net1", address: "10.1.0.9")) // external .9
        XCTAssertControlError(try fixture.attachments.attach(request("c2", address: "10.1.0.2/24")),
                              code: "address_taken", field: "address", status: 409)
        XCTAssertControlError(try fixture.attachments.attach(request("c2", address: "10.1.0.9/24")),
                              code: "address_taken", field: "address", status: 409)
        XCTAssertEqual(try fixture.store.attachments().count, 2)
        XCTAssertEqual(fixture.provisioner.links.count, 2)
    }

    func testAddressAndGatewayMustFitTheNetwork() throws {
        let cases: [(String?, String?, String)] = [
            ("10.2.0.7/24", nil, "address"),      // another subnet
            ("10.1.0.7/16", nil, "address"),      // the subnet's prefix is /24
            ("10.1.0.0/24", nil, "address"),      // network address
            ("10.1.0.255/24", nil, "address"),    // broadcast
            ("10.1.0.1/24", nil, "address"),      // reserved for the gateway
            ("10.1.0.300/24", nil, "address"),    // not an address
            ("10.1.0.7/33", nil, "address"),
            ("10.1.0.7/24", "10.9.0.1", "gateway"),
            ("10.1.0.7/24", "10.1.0.7", "gateway"),   // its own address
            ("10.1.0.7/24", "gw", "gateway"),
            (nil, "10.1.0.255", "gateway"),
        ]
        for (address, gateway, field) in cases {
            XCTAssertControlError(try fixture.attachments.attach(request(address: address, gateway: gateway)),
                                  code: "invalid_field", field: field, status: 400)
        }
        XCTAssertEqual(try fixture.store.attachments(), [])
        XCTAssertEqual(try fixture.store.allLeases(), [])
        XCTAssertEqual(fixture.provisioner.links.count, 0)
    }

    func testGatewayWithWeftdsOwnLease() throws {
        let attachment = try fixture.attachments.attach(request(gateway: "10.1.0.1"))
        XCTAssertEqual(attachment.address, "10.1.0.2/24")
        XCTAssertEqual(attachment.gateway, "10.1.0.1")
        XCTAssertEqual(attachment.ipam, .weft)
        XCTAssertEqual(fixture.provisioner.links[attachment.hostIfName]?.gateway, "10.1.0.1")
    }

    func testDetachingAnExternalAddressLeavesOtherLeasesAlone() throws {
        _ = try fixture.attachments.attach(request("c1", address: "10.1.0.20"))
        let otherNetns = fixture.addNamespace("c2")
        _ = try fixture.attachments.attach(CreateAttachmentRequest(containerId: "c2", netns: otherNetns, network: "blue"))
        try fixture.attachments.detach(containerId: "c1", ifName: "eth0")
        XCTAssertEqual(try fixture.store.allLeases().map(\.containerId), ["c2"])
        XCTAssertEqual(try fixture.store.attachments().map(\.containerId), ["c2"])
        // The address is free again for anyone.
        XCTAssertEqual(try fixture.attachments.attach(request("c3", address: "10.1.0.20")).address, "10.1.0.20/24")
    }

    func testRollbackOfAnExternalAttachLeavesNothing() throws {
        fixture.dataplane.failAddInterface = .system("boom")
        XCTAssertThrowsError(try fixture.attachments.attach(request(address: "10.1.0.7", gateway: "10.1.0.1")))
        XCTAssertEqual(try fixture.store.attachments(), [])
        XCTAssertEqual(fixture.provisioner.links.count, 0)
        fixture.dataplane.failAddInterface = nil
        XCTAssertEqual(try fixture.attachments.attach(request(address: "10.1.0.7")).address, "10.1.0.7/24")
    }

    func testTheReconcilerRecreatesTheGatewayAndKeepsExternalAddresses() throws {
        let attachment = try fixture.attachments.attach(request(address: "10.1.0.7", gateway: "10.1.0.1"))
        let kernel = FakeVethProvisioner()
        kernel.namespaces = [netns]
        let report = try Reconciler(store: fixture.store, dataplane: FakeDataplane(), provisioner: kernel,
                                    log: ControlFixture.quietLog).run()
        XCTAssertEqual(report.vethsRecreated, ["c1/eth0"])
        let rebuilt = try XCTUnwrap(kernel.links[attachment.hostIfName])
        XCTAssertEqual(rebuilt.address, "10.1.0.7")
        XCTAssertEqual(rebuilt.gateway, "10.1.0.1")
    }

    func testAVersion2DatabaseGainsTheColumnsInPlace() throws {
        let directory = try makeTemporaryDirectory(self)
        let path = directory + "/state.db"
        do {
            let old = try DatabaseQueue(path: path)
            try StateMigrations.migrator.migrate(old, upTo: "v2-host-interfaces")
            try old.write { db in
                try db.execute(sql: """
                    INSERT INTO networks (name, bridge_domain, subnet, mtu, mac_age_seconds, learn_limit, created_at)
                    VALUES ('blue', 1, '10.1.0.0/24', 1500, 300, 4096, '2026-01-01 00:00:00');
                    INSERT INTO attachments (container_id, if_name, network, netns, host_if_name, mac, address,
                                             prefix_length, mtu, created_at)
                    VALUES ('old', 'eth0', 'blue', '/n', 'wf00000001', '02:fe:0a:01:00:02', '10.1.0.2', 24, 1500,
                            '2026-01-01 00:00:00');
                    INSERT INTO leases (network, address, container_id, if_name) VALUES ('blue', '10.1.0.2', 'old', 'eth0');
                    """)
            }
        }
        let store = try StateStore(path: path)
        let old = try XCTUnwrap(try store.attachment(containerId: "old", ifName: "eth0"))
        XCTAssertEqual(old.ipam, "weft")
        XCTAssertNil(old.gateway)
        XCTAssertTrue(old.ownsLease)
        let next = try store.createAttachment(containerId: "new", ifName: "eth0", network: "blue", netns: "/n", mtu: nil)
        XCTAssertEqual(next.address, "10.1.0.3")
    }
}

/// The same over HTTP: field names and error codes as openapi.yaml has them.
final class ExternalAddressAPITests: XCTestCase {
    private var fixture: ControlFixture!
    private var executor: ControlExecutor!
    private var server: APIServer!
    private var client: UnixHTTPClient!

    override func setUpWithError() throws {
        fixture = try ControlFixture(self)
        executor = ControlExecutor()
        server = APIServer(socketPath: fixture.directory + "/weft.sock", networks: fixture.networks,
                           attachments: fixture.attachments, dataplane: fixture.dataplane, executor: executor,
                           log: ControlFixture.quietLog)
        try server.start()
        client = UnixHTTPClient(socketPath: fixture.directory + "/weft.sock", timeoutSeconds: 10)
        _ = try fixture.networks.create(CreateNetworkRequest(name: "blue", subnet: "10.1.0.0/24"))
        for name in ["a", "b"] { _ = fixture.addNamespace(name) }
    }

    override func tearDown() {
        server?.stop()
        executor?.shutdown()
    }

    private func post(_ json: String) throws -> UnixHTTPClient.Response {
        try client.send(method: "POST", path: "/v1/attachments", body: Array(json.utf8))
    }

    func testAttachWithAddressAndGateway() throws {
        let created = try post(#"{"containerId": "a", "netns": "/var/run/netns/a", "network": "blue", "address": "10.1.0.50/24", "gateway": "10.1.0.1"}"#)
        XCTAssertEqual(created.status, 201, created.bodyText)
        let attachment = try JSONDecoder().decode(AttachmentInfo.self, from: Data(created.body))
        XCTAssertEqual(attachment.address, "10.1.0.50/24")
        XCTAssertEqual(attachment.gateway, "10.1.0.1")
        XCTAssertEqual(attachment.ipam, .external)
        XCTAssertTrue(created.bodyText.contains(#""ipam":"external""#), created.bodyText)
        XCTAssertTrue(created.bodyText.contains(#""hostMac":"02:00:00:00:00:01""#), created.bodyText)

        let taken = try post(#"{"containerId": "b", "netns": "/var/run/netns/b", "network": "blue", "address": "10.1.0.50"}"#)
        XCTAssertEqual(taken.status, 409)
        let error = try JSONDecoder().decode(ErrorResponse.self, from: Data(taken.body)).error
        XCTAssertEqual(error.code, "address_taken")
        XCTAssertEqual(error.field, "address")
        XCTAssertTrue(error.message.contains("a/eth0"), error.message)

        let outside = try post(#"{"containerId": "b", "netns": "/var/run/netns/b", "network": "blue", "address": "10.2.0.5/24"}"#)
        XCTAssertEqual(outside.status, 400)
        XCTAssertEqual(try JSONDecoder().decode(ErrorResponse.self, from: Data(outside.body)).error.field, "address")

        let listed = try client.send(method: "GET", path: "/v1/attachments")
        XCTAssertEqual(try JSONDecoder().decode([AttachmentInfo].self, from: Data(listed.body)).map(\.ipam), [.external])
        XCTAssertEqual(try client.send(method: "DELETE", path: "/v1/attachments/a/eth0").status, 204)
        XCTAssertEqual(try fixture.store.attachments(), [])
    }
}
