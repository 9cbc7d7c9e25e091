import Foundation
import XCTest
@testable import WeftControl

/// `POST/GET/DELETE /v1/uplink` through a real unix socket, with the fake dataplane and kernel.
final class UplinkAPITests: APITestCase {
    override func setUpWithError() throws {
        try super.setUpWithError()
        fixture.provisioner.hostLinks = ["up0"]
        XCTAssertEqual(try send("POST", "/v1/networks", json: #"{"name": "red", "subnet": "10.61.0.0/24"}"#).status, 201)
    }

    private func assertError(_ response: UnixHTTPClient.Response, status: Int, code: String, field: String? = nil,
                             file: StaticString = #filePath, line: UInt = #line) throws {
        XCTAssertEqual(response.status, status, response.bodyText, file: file, line: line)
        let error = try JSONDecoder().decode(ErrorResponse.self, from: Data(response.body)).error
        XCTAssertEqual(error.code, code, error.message, file: file, line: line)
        XCTAssertEqual(error.field, field, error.message, file: file, line: line)
    }

    func testSetShowClearAndRestore() throws {
        try assertError(try send("GET", "/v1/uplink"), status: 404, code: "uplink_not_configured")
        let set = try send("POST", "/v1/uplink", json: #"{"name": "up0", "address": "192.0.2.2/24", "gateway": "192.0.2.1"}"#)
        XCTAssertEqual(set.status, 201, set.bodyText)
        XCTAssertEqual(fixture.dataplane.uplink?.name, "up0")
        XCTAssertEqual(fixture.dataplane.uplink?.address, 0xC000_0202)
        XCTAssertEqual(fixture.dataplane.uplink?.gateway, 0xC000_0201)
        let shown = try JSONDecoder().decode(UplinkRequest.self, from: Data(try send("GET", "/v1/uplink").body))
        XCTAssertEqual(shown, UplinkRequest(name: "up0", address: "192.0.2.2/24", gateway: "192.0.2.1"))

        // Routes may use the uplink's subnet; the default route is the uplink's.
        XCTAssertEqual(try send("POST", "/v1/routes", json: #"{"prefix": "198.51.100.0/24", "nextHop": "192.0.2.7"}"#).status, 201)
        try assertError(try send("POST", "/v1/routes", json: #"{"prefix": "0.0.0.0/0", "nextHop": "10.61.0.5"}"#),
                        status: 409, code: "route_exists", field: "prefix")
        try assertError(try send("DELETE", "/v1/uplink"), status: 409, code: "uplink_has_routes")

        // Restart: the reconciler opens the uplink again.
        let fresh = FakeDataplane()
        let report = try Reconciler(store: fixture.store, dataplane: fresh, provisioner: fixture.provisioner,
                                    log: ControlFixture.quietLog).run()
        XCTAssertEqual(report.uplinkRestored, "up0")
        XCTAssertEqual(fresh.uplink?.gateway, 0xC000_0201)
        XCTAssertEqual(fresh.staticRoutes.keys.sorted(), ["198.51.100.0/24"])

        XCTAssertEqual(try send("DELETE", "/v1/routes/198.51.100.0/24").status, 204)
        XCTAssertEqual(try send("DELETE", "/v1/uplink").status, 204)
        XCTAssertNil(fixture.dataplane.uplink)
        XCTAssertNil(try fixture.store.uplink())
    }

    func testValidation() throws {
        func post(_ json: String) throws -> UnixHTTPClient.Response { try send("POST", "/v1/uplink", json: json) }
        try assertError(try post(#"{"name": "nope0", "address": "192.0.2.2/24"}"#), status: 400, code: "invalid_field", field: "name")
        try assertError(try post(#"{"name": "up0", "address": "192.0.2.2"}"#), status: 400, code: "invalid_field", field: "address")
        try assertError(try post(#"{"name": "up0", "address": "192.0.2.0/24"}"#), status: 400, code: "invalid_field", field: "address")
        try assertError(try post(#"{"name": "up0", "address": "192.0.2.2/24", "gateway": "192.0.3.1"}"#),
                        status: 400, code: "invalid_field", field: "gateway")
        try assertError(try post(#"{"name": "up0", "address": "10.61.0.200/16"}"#),
                        status: 409, code: "address_overlaps_network", field: "address")
        XCTAssertNil(fixture.dataplane.uplink)
        XCTAssertNil(try fixture.store.uplink())
    }

    /// The other direction: a network may not be created over the uplink's subnet.
    func testNetworkOverlappingTheUplinkIsRefused() throws {
        XCTAssertEqual(try send("POST", "/v1/uplink", json: #"{"name": "up0", "address": "192.0.2.2/24"}"#).status, 201)
        try assertError(try send("POST", "/v1/networks", json: #"{"name": "blue", "subnet": "192.0.2.128/25"}"#),
                        status: 409, code: "subnet_overlaps_uplink", field: "subnet")
        try assertError(try send("POST", "/v1/networks", json: #"{"name": "blue", "subnet": "192.0.0.0/16"}"#),
                        status: 409, code: "subnet_overlaps_uplink", field: "subnet")
        XCTAssertEqual(try send("POST", "/v1/networks", json: #"{"name": "blue", "subnet": "192.0.3.0/24"}"#).status, 201)
    }
}
