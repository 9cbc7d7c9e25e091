import XCTest
@testable import WeftControl

final class AttachmentServiceTests: XCTestCase {
    private var fixture: ControlFixture!
    private var netns = ""

    override func setUpWithError() throws {
        fixture = try ControlFixture(self)
        _ = try fixture.networks.create(CreateNetworkRequest(name: "blue", subnet: "10.1.0.0/24"))
        netns = fixture.addNamespace("c1")
    }

    private func attachRequest(_ container: String = "c1", ifName: String? = nil, network: String = "blue",
                               mtu: Int? = nil) -> CreateAttachmentRequest {
        CreateAttachmentRequest(containerId: container, netns: netns, ifName: ifName, network: network, mtu: mtu)
    }

    /// Nothing of a failed attach may remain anywhere.
    private func assertNothingLeftBehind(file: StaticString = #filePath, line: UInt = #line) throws {
        XCTAssertEqual(try fixture.store.attachments(), [], "attachment rows", file: file, line: line)
        XCTAssertEqual(try fixture.store.allLeases(), [], "lease rows", file: file, line: line)
        XCTAssertEqual(fixture.provisioner.links.count, 0, "veths", file: file, line: line)
        XCTAssertEqual(fixture.dataplane.interfacesByName.count, 0, "dataplane interfaces", file: file, line: line)
    }

    func testAttachCreatesVethAddsInterfaceAndRecordsLease() throws {
        let attachment = try fixture.attachments.attach(attachRequest())
        let hostIfName = InterfaceIdentity.hostIfName(containerId: "c1", ifName: "eth0")
        XCTAssertEqual(attachment.address, "10.1.0.2/24")
        XCTAssertEqual(attachment.mac, "02:fe:0a:01:00:02")
        XCTAssertEqual(attachment.ifName, "eth0")
        XCTAssertEqual(attachment.hostIfName, hostIfName)
        XCTAssertEqual(attachment.mtu, 1500)
        XCTAssertEqual(attachment.swIfIndex, 1)

        let spec = try XCTUnwrap(fixture.provisioner.links[hostIfName])
        XCTAssertEqual(spec.netnsPath, netns)
        XCTAssertEqual(spec.containerIfName, "eth0")
        XCTAssertEqual(spec.mac, [0x02, 0xfe, 10, 1, 0, 2])
        XCTAssertEqual(spec.address, "10.1.0.2")
        XCTAssertEqual(spec.prefixLength, 24)
        XCTAssertEqual(spec.gateway, "10.1.0.1", "weftd's own addresses get the network's gateway as default route")
        XCTAssertEqual(fixture.dataplane.interfacesByName[hostIfName], .init(index: 1, bridgeDomain: 1))
        XCTAssertEqual(try fixture.store.leases(network: "blue").map(\.address), ["10.1.0.2"])
        XCTAssertEqual(try fixture.attachments.get(containerId: "c1", ifName: "eth0"), attachment)
    }

    func testRollbackWhenVethCreationFails() throws {
        fixture.provisioner.failCreate = NetnsError(errno: 1, message: "Operation not permitted")
        XCTAssertControlError(try fixture.attachments.attach(attachRequest()), code: "netns_error", status: 500)
        try assertNothingLeftBehind()
    }

    func testRollbackWhenDataplaneFails() throws {
        fixture.dataplane.failAddInterface = .system("AF_PACKET socket: Operation not permitted")
        XCTAssertControlError(try fixture.attachments.attach(attachRequest()), code: "dataplane_error", status: 500)
        try assertNothingLeftBehind()
        XCTAssertEqual(fixture.provisioner.deleted, [InterfaceIdentity.hostIfName(containerId: "c1", ifName: "eth0")])
    }

    func testRollbackWhenDataplaneRejectsAsConflict() throws {
        fixture.dataplane.failAddInterface = .conflict("already open")
        XCTAssertControlError(try fixture.attachments.attach(attachRequest()), code: "dataplane_conflict", status: 409)
        try assertNothingLeftBehind()
    }

    func testFailedAttachFreesTheAddressForTheNextOne() throws {
        fixture.dataplane.failAddInterface = .system("boom")
        XCTAssertThrowsError(try fixture.attachments.attach(attachRequest()))
        fixture.dataplane.failAddInterface = nil
        XCTAssertEqual(try fixture.attachments.attach(attachRequest()).address, "10.1.0.2/24")
    }

    func testValidationAndPreconditions() throws {
        _ = try fixture.attachments.attach(attachRequest())
        XCTAssertControlError(try fixture.attachments.attach(attachRequest()), code: "attachment_exists", status: 409)
        XCTAssertControlError(try fixture.attachments.attach(attachRequest("c2", network: "red")),
                              code: "network_not_found", field: "network", status: 404)
        var missingNetns = attachRequest("c3")
        missingNetns.netns = "/var/run/netns/gone"
        XCTAssertControlError(try fixture.attachments.attach(missingNetns), code: "netns_not_found", field: "netns",
                              status: 400)
        var relative = attachRequest("c3")
        relative.netns = "netns/c3"
        XCTAssertControlError(try fixture.attachments.attach(relative), code: "invalid_field", field: "netns")
        XCTAssertControlError(try fixture.attachments.attach(attachRequest("bad/id")), code: "invalid_field",
                              field: "containerId")
        XCTAssertControlError(try fixture.attachments.attach(attachRequest("c3", ifName: "a-very-long-ifname")),
                              code: "invalid_field", field: "ifName")
        XCTAssertControlError(try fixture.attachments.attach(attachRequest("c3", mtu: 9000)),
                              code: "invalid_field", field: "mtu")
        // None of the rejected requests changed anything.
        XCTAssertEqual(try fixture.store.attachments().count, 1)
        XCTAssertEqual(fixture.provisioner.links.count, 1)
    }

    func testSecondInterfaceOfAContainerGetsItsOwnVethAndAddress() throws {
        let first = try fixture.attachments.attach(attachRequest())
        let second = try fixture.attachments.attach(attachRequest(ifName: "net1", mtu: 1400))
        XCTAssertEqual(second.address, "10.1.0.3/24")
        XCTAssertEqual(second.mtu, 1400)
        XCTAssertNotEqual(first.hostIfName, second.hostIfName)
        XCTAssertEqual(try fixture.attachments.list().count, 2)
    }

    func testDetachRemovesEverythingAndIsRetryable() throws {
        let attachment = try fixture.attachments.attach(attachRequest())
        try fixture.attachments.detach(containerId: "c1", ifName: "eth0")
        try assertNothingLeftBehind()
        XCTAssertControlError(try fixture.attachments.detach(containerId: "c1", ifName: "eth0"),
                              code: "attachment_not_found", status: 404)

        // Veth already gone (container deleted first) and interface not in
        // the dataplane: detach still completes.
        _ = try fixture.attachments.attach(attachRequest())
        fixture.provisioner.links.removeAll()
        fixture.dataplane.interfacesByName.removeAll()
        try fixture.attachments.detach(containerId: "c1", ifName: "eth0")
        try assertNothingLeftBehind()
        XCTAssertEqual(attachment.address, "10.1.0.2/24")
    }

    func testDetachKeepsTheRecordWhenTheDataplaneFails() throws {
        _ = try fixture.attachments.attach(attachRequest())
        fixture.dataplane.failRemoveInterface = .system("barrier timeout")
        XCTAssertControlError(try fixture.attachments.detach(containerId: "c1", ifName: "eth0"), code: "dataplane_error")
        XCTAssertEqual(try fixture.store.attachments().count, 1, "kept so the detach can be retried")
        fixture.dataplane.failRemoveInterface = nil
        try fixture.attachments.detach(containerId: "c1", ifName: "eth0")
        try assertNothingLeftBehind()
    }

    func testStaleVethWithOurNameIsReplaced() throws {
        let hostIfName = InterfaceIdentity.hostIfName(containerId: "c1", ifName: "eth0")
        fixture.provisioner.links[hostIfName] = VethSpec(hostIfName: hostIfName, netnsPath: "/old", containerIfName: "eth0",
                                                         mac: [], mtu: 1500, address: "10.9.9.9", prefixLength: 24,
                                                         gateway: nil)
        _ = try fixture.attachments.attach(attachRequest())
        XCTAssertEqual(fixture.provisioner.links[hostIfName]?.netnsPath, netns)
    }
}
