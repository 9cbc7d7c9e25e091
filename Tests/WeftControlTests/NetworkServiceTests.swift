import XCTest
@testable import WeftControl

final class NetworkServiceTests: XCTestCase {
    func testCreateAppliesDefaultsAndCreatesTheBridgeDomain() throws {
        let fixture = try ControlFixture(self)
        let network = try fixture.networks.create(CreateNetworkRequest(name: "blue", subnet: "10.1.0.0/24"))
        XCTAssertEqual(network, NetworkInfo(name: "blue", bridgeDomain: 1, subnet: "10.1.0.0/24", mtu: 1500,
                                            macAgeSeconds: 300, learnLimit: 4096, masquerade: false))
        XCTAssertEqual(fixture.dataplane.bridgeDomainsByID[1], .init(learnLimit: 4096, macAgeSeconds: 300))
        XCTAssertEqual(try fixture.networks.list(), [network])
        // The gateway: 10.1.0.1/24 on the bridge domain's BVI.
        let gateway = try XCTUnwrap(fixture.dataplane.gateways[1])
        XCTAssertEqual(gateway.address, 0x0A01_0001)
        XCTAssertEqual(gateway.prefixLength, 24)
        XCTAssertEqual(gateway.mtu, 1500)
    }

    func testCreateRollsBackTheRecordWhenTheDataplaneFails() throws {
        let fixture = try ControlFixture(self)
        fixture.dataplane.failCreateBridgeDomain = .invalid("learn limit too large")
        XCTAssertControlError(try fixture.networks.create(CreateNetworkRequest(name: "blue", subnet: "10.1.0.0/24")),
                              code: "dataplane_invalid", status: 400)
        XCTAssertEqual(try fixture.store.networks(), [])
    }

    func testValidation() throws {
        let fixture = try ControlFixture(self)
        func create(_ request: CreateNetworkRequest) throws { _ = try fixture.networks.create(request) }
        XCTAssertControlError(try create(.init(name: "Blue", subnet: "10.1.0.0/24")), code: "invalid_field", field: "name")
        XCTAssertControlError(try create(.init(name: "-x", subnet: "10.1.0.0/24")), code: "invalid_field", field: "name")
        XCTAssertControlError(try create(.init(name: String(repeating: "a", count: 33), subnet: "10.1.0.0/24")),
                              code: "invalid_field", field: "name")
        XCTAssertControlError(try create(.init(name: "x", subnet: "10.1.0.1/24")), code: "invalid_field", field: "subnet")
        XCTAssertControlError(try create(.init(name: "x", subnet: "10.1.0.0/31")), code: "invalid_field", field: "subnet")
        XCTAssertControlError(try create(.init(name: "x", subnet: "10.1.0.0/24", mtu: 1901)), code: "invalid_field", field: "mtu")
        XCTAssertControlError(try create(.init(name: "x", subnet: "10.1.0.0/24", mtu: 575)), code: "invalid_field", field: "mtu")
        XCTAssertControlError(try create(.init(name: "x", subnet: "10.1.0.0/24", bridgeDomain: 0)),
                              code: "invalid_field", field: "bridgeDomain")
        XCTAssertControlError(try create(.init(name: "x", subnet: "10.1.0.0/24", macAgeSeconds: 0)),
                              code: "invalid_field", field: "macAgeSeconds")
        XCTAssertControlError(try create(.init(name: "x", subnet: "10.1.0.0/24", learnLimit: -1)),
                              code: "invalid_field", field: "learnLimit")
        XCTAssertNoThrow(try create(.init(name: "x-1", subnet: "10.1.0.0/24", mtu: 1900, bridgeDomain: 7)))
        XCTAssertEqual(try fixture.networks.get(name: "x-1").bridgeDomain, 7)
    }

    func testDeleteRemovesTheBridgeDomainAndRefusesWhileInUse() throws {
        let fixture = try ControlFixture(self)
        _ = try fixture.networks.create(CreateNetworkRequest(name: "blue", subnet: "10.1.0.0/24"))
        let netns = fixture.addNamespace("c1")
        _ = try fixture.attachments.attach(CreateAttachmentRequest(containerId: "c1", netns: netns, network: "blue"))
        XCTAssertControlError(try fixture.networks.delete(name: "blue"), code: "network_in_use", status: 409)
        XCTAssertNotNil(fixture.dataplane.bridgeDomainsByID[1])
        try fixture.attachments.detach(containerId: "c1", ifName: "eth0")
        XCTAssertNotNil(fixture.dataplane.gateways[1])
        try fixture.networks.delete(name: "blue")
        XCTAssertNil(fixture.dataplane.bridgeDomainsByID[1])
        XCTAssertNil(fixture.dataplane.gateways[1])
        XCTAssertControlError(try fixture.networks.delete(name: "blue"), code: "network_not_found", status: 404)
    }
}
