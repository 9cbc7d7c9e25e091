import Foundation
import XCTest
@testable import WeftControl

/// NAT44 through the API: masquerading networks, port mappings (owned ones go
/// with their container), config, restore; with the fake dataplane.
final class NATAPITests: APITestCase {
    override func setUpWithError() throws {
        try super.setUpWithError()
        fixture.provisioner.hostLinks = ["up0"]
        XCTAssertEqual(try send("POST", "/v1/uplink", json: #"{"name": "up0", "address": "192.0.2.2/24", "gateway": "192.0.2.1"}"#).status, 201)
    }

    private func assertError(_ response: UnixHTTPClient.Response, status: Int, code: String, field: String? = nil,
                             file: StaticString = #filePath, line: UInt = #line) throws {
        XCTAssertEqual(response.status, status, response.bodyText, file: file, line: line)
        let error = try JSONDecoder().decode(ErrorResponse.self, from: Data(response.body)).error
        XCTAssertEqual(error.code, code, error.message, file: file, line: line)
        XCTAssertEqual(error.field, field, error.message, file: file, line: line)
    }

    func testMasqueradeMappingsAndRestore() throws {
        let r = try send("POST", "/v1/networks", json: #"{"name": "red", "subnet": "10.61.0.0/24", "masquerade": true}"#)
        XCTAssertEqual(r.status, 201, r.bodyText)
        XCTAssertEqual(try JSONDecoder().decode(NetworkInfo.self, from: Data(r.body)).masquerade, true)
        XCTAssertEqual(fixture.dataplane.masquerading, [1])

        let ns = fixture.addNamespace("c")
        let a = try send("POST", "/v1/attachments", json: #"{"containerId": "web", "netns": "\#(ns)", "network": "red"}"#)
        XCTAssertEqual(a.status, 201, a.bodyText)
        let m = try send("POST", "/v1/nat/mappings",
                         json: #"{"protocol": "tcp", "externalPort": 8080, "internalAddress": "10.61.0.2", "internalPort": 80, "containerId": "web"}"#)
        XCTAssertEqual(m.status, 201, m.bodyText)
        XCTAssertEqual(try JSONDecoder().decode(NATMapping.self, from: Data(m.body)).externalAddress, "192.0.2.2")
        XCTAssertEqual(fixture.dataplane.natMappings["6/8080"]?.port, 80)
        XCTAssertEqual(try send("POST", "/v1/nat/mappings",
                                json: #"{"protocol": "udp", "externalPort": 5353, "internalAddress": "10.61.0.9", "internalPort": 53}"#).status, 201)

        // Bad input: each a 4xx naming the field; nothing recorded.
        try assertError(try send("POST", "/v1/nat/mappings", json: #"{"protocol": "tcp", "externalPort": 8080, "internalAddress": "10.61.0.3", "internalPort": 80}"#),
                        status: 409, code: "mapping_exists", field: "externalPort")
        try assertError(try send("POST", "/v1/nat/mappings", json: #"{"protocol": "sctp", "externalPort": 1, "internalAddress": "10.61.0.3", "internalPort": 80}"#),
                        status: 400, code: "invalid_field", field: "protocol")
        try assertError(try send("POST", "/v1/nat/mappings", json: #"{"protocol": "tcp", "externalPort": 0, "internalAddress": "10.61.0.3", "internalPort": 80}"#),
                        status: 400, code: "invalid_field", field: "externalPort")
        try assertError(try send("POST", "/v1/nat/mappings", json: #"{"protocol": "tcp", "externalPort": 81, "internalAddress": "172.16.0.1", "internalPort": 80}"#),
                        status: 400, code: "invalid_field", field: "internalAddress")
        fixture.dataplane.failAddNATMapping = .conflict("too many static mappings")
        XCTAssertEqual(try send("POST", "/v1/nat/mappings", json: #"{"protocol": "tcp", "externalPort": 82, "internalAddress": "10.61.0.3", "internalPort": 80}"#).status, 409)
        fixture.dataplane.failAddNATMapping = nil
        XCTAssertEqual(try fixture.store.natMappings().count, 2)

        // Config: defaults, a change, bad values.
        let config = try JSONDecoder().decode(NATConfig.self, from: Data(try send("GET", "/v1/nat/config").body))
        XCTAssertEqual(config.udpTimeout, 300)
        XCTAssertEqual(config.portRange, "32768-65535")
        let changed = try send("PUT", "/v1/nat/config", json: #"{"udpTimeout": 30, "exclude": ["10.96.0.0/12", "10.244.0.0/16"]}"#)
        XCTAssertEqual(changed.status, 200, changed.bodyText)
        XCTAssertEqual(fixture.dataplane.natTimeouts?.udp, 30)
        XCTAssertEqual(fixture.dataplane.natTimeouts?.tcpEstablished, 7440)
        XCTAssertEqual(fixture.dataplane.natExclusions.count, 2)
        try assertError(try send("PUT", "/v1/nat/config", json: #"{"udpTimeout": 0}"#), status: 400, code: "invalid_field", field: "udpTimeout")
        try assertError(try send("PUT", "/v1/nat/config", json: #"{"exclude": ["nope"]}"#), status: 400, code: "invalid_field", field: "exclude")
        try assertError(try send("PUT", "/v1/nat/config", json: #"{"maxSessions": 5}"#), status: 400, code: "invalid_field", field: "maxSessions")

        // Restart: masquerade, config and mappings come back.
        let fresh = FakeDataplane()
        let report = try Reconciler(store: fixture.store, dataplane: fresh, provisioner: fixture.provisioner,
                                    log: ControlFixture.quietLog).run()
        XCTAssertEqual(report.natMappingsRestored, ["tcp/8080", "udp/5353"])
        XCTAssertEqual(fresh.masquerading, [1])
        XCTAssertEqual(fresh.natTimeouts?.udp, 30)
        XCTAssertEqual(fresh.natExclusions.count, 2)

        // The network cannot go while a mapping targets it; detaching the owner removes its mapping.
        XCTAssertEqual(try send("DELETE", "/v1/attachments/web/eth0").status, 204)
        XCTAssertNil(fixture.dataplane.natMappings["6/8080"])
        XCTAssertEqual(try fixture.store.natMappings().map(\.externalPort), [5353])
        try assertError(try send("DELETE", "/v1/networks/red"), status: 409, code: "network_has_mappings")
        XCTAssertEqual(try send("DELETE", "/v1/nat/mappings/udp/5353").status, 204)
        try assertError(try send("DELETE", "/v1/nat/mappings/udp/5353"), status: 404, code: "mapping_not_found")
        XCTAssertEqual(try send("DELETE", "/v1/networks/red").status, 204)

        XCTAssertEqual(try send("GET", "/v1/nat/sessions?limit=5").status, 200)
        XCTAssertEqual(try send("GET", "/v1/nat/statistics").status, 200)
        try assertError(try send("GET", "/v1/nat/sessions?limit=0"), status: 400, code: "invalid_field", field: "limit")
    }
}
