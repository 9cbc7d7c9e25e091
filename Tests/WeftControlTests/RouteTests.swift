import Foundation
import XCTest
@testable import WeftControl

/// Static routes through a real unix socket, with the fake dataplane:
/// validation, duplicates, bulk all-or-nothing, persistence and restore.
final class RouteAPITests: APITestCase {
    override func setUpWithError() throws {
        try super.setUpWithError()
        XCTAssertEqual(try send("POST", "/v1/networks", json: #"{"name": "blue", "subnet": "10.61.0.0/24"}"#).status, 201)
    }

    @discardableResult
    private func assertError(_ response: UnixHTTPClient.Response, status: Int, code: String, field: String? = nil,
                             file: StaticString = #filePath, line: UInt = #line) throws -> ErrorResponse.Detail {
        XCTAssertEqual(response.status, status, response.bodyText, file: file, line: line)
        let error = try JSONDecoder().decode(ErrorResponse.self, from: Data(response.body)).error
        XCTAssertEqual(error.code, code, error.message, file: file, line: line)
        XCTAssertEqual(error.field, field, error.message, file: file, line: line)
        return error
    }

    func testAddListDelete() throws {
        let created = try send("POST", "/v1/routes", json: #"{"prefix": "10.70.0.0/16", "nextHop": "10.61.0.5"}"#)
        XCTAssertEqual(created.status, 201, created.bodyText)
        XCTAssertEqual(try JSONDecoder().decode(AddRouteRequest.self, from: Data(created.body)),
                       AddRouteRequest(prefix: "10.70.0.0/16", nextHop: "10.61.0.5"))
        XCTAssertEqual(fixture.dataplane.staticRoutes, ["10.70.0.0/16": 0x0A3D_0005])
        XCTAssertEqual(try fixture.store.routes().map(\.prefix), ["10.70.0.0/16"])

        let fib = try JSONDecoder().decode([RouteInfo].self, from: Data(try send("GET", "/v1/routes").body))
        XCTAssertEqual(fib.map(\.prefix), ["10.70.0.0/16"])
        let match = try JSONDecoder().decode([RouteInfo].self, from: Data(try send("GET", "/v1/routes?prefix=10.70.3.4").body))
        XCTAssertEqual(match.map(\.prefix), ["10.70.0.0/16"], "longest match for an address")
        let exact = try JSONDecoder().decode([RouteInfo].self, from: Data(try send("GET", "/v1/routes?prefix=10.70.0.0/16").body))
        XCTAssertEqual(exact.map(\.prefix), ["10.70.0.0/16"], "exact prefix")
        let notExact = try JSONDecoder().decode([RouteInfo].self, from: Data(try send("GET", "/v1/routes?prefix=10.70.0.0/24").body))
        XCTAssertEqual(notExact, [])
        try assertError(try send("GET", "/v1/routes?prefix=banana"), status: 400, code: "invalid_field", field: "prefix")
        let none = try JSONDecoder().decode([RouteInfo].self, from: Data(try send("GET", "/v1/routes?prefix=10.71.0.1").body))
        XCTAssertEqual(none, [])
        let listed = try JSONDecoder().decode([AddRouteRequest].self, from: Data(try send("GET", "/v1/routes/static").body))
        XCTAssertEqual(listed, [AddRouteRequest(prefix: "10.70.0.0/16", nextHop: "10.61.0.5")])

        try assertError(try send("DELETE", "/v1/networks/blue"), status: 409, code: "network_has_routes")

        XCTAssertEqual(try send("DELETE", "/v1/routes?prefix=10.70.0.0/16").status, 204)
        XCTAssertEqual(fixture.dataplane.staticRoutes, [:])
        XCTAssertEqual(try fixture.store.routes(), [])
        try assertError(try send("DELETE", "/v1/routes/10.70.0.0/16"), status: 404, code: "route_not_found", field: "prefix")
    }

    func testDeleteByPath() throws {
        XCTAssertEqual(try send("POST", "/v1/routes", json: #"{"prefix": "0.0.0.0/0", "nextHop": "10.61.0.9"}"#).status, 201)
        XCTAssertEqual(try send("DELETE", "/v1/routes/0.0.0.0/0").status, 204)
        XCTAssertEqual(fixture.dataplane.staticRoutes, [:])
    }

    func testValidation() throws {
        func post(_ prefix: String, _ nextHop: String) throws -> UnixHTTPClient.Response {
            try send("POST", "/v1/routes", json: #"{"prefix": "\#(prefix)", "nextHop": "\#(nextHop)"}"#)
        }
        try assertError(try post("10.70.0.0/33", "10.61.0.5"), status: 400, code: "invalid_field", field: "prefix")
        try assertError(try post("10.70.0.1/16", "10.61.0.5"), status: 400, code: "invalid_field", field: "prefix")
        try assertError(try post("10.70.0.0", "10.61.0.5"), status: 400, code: "invalid_field", field: "prefix")
        try assertError(try post("10.70.0.0/16", "10.61.0"), status: 400, code: "invalid_field", field: "nextHop")
        let offLink = try assertError(try post("10.70.0.0/16", "10.62.0.5"), status: 400, code: "invalid_field", field: "nextHop")
        XCTAssertTrue(offLink.message.contains("connected subnet"), offLink.message)
        try assertError(try post("10.70.0.0/16", "10.61.0.1"), status: 400, code: "invalid_field", field: "nextHop")
        try assertError(try post("10.61.0.0/24", "10.61.0.5"), status: 409, code: "route_is_connected", field: "prefix")
        XCTAssertEqual(try post("10.70.0.0/16", "10.61.0.5").status, 201)
        try assertError(try post("10.70.0.0/16", "10.61.0.6"), status: 409, code: "route_exists", field: "prefix")
        XCTAssertEqual(fixture.dataplane.staticRoutes, ["10.70.0.0/16": 0x0A3D_0005])
    }

    func testBulkIsAllOrNothing() throws {
        let bad = try send("POST", "/v1/routes/bulk", json: #"""
            {"routes": [{"prefix": "10.80.0.0/16", "nextHop": "10.61.0.5"}, {"prefix": "10.81.0.0/16", "nextHop": "192.168.9.9"}]}
            """#)
        let error = try assertError(bad, status: 400, code: "invalid_field", field: "nextHop")
        XCTAssertTrue(error.message.hasPrefix("route 2 "), error.message)
        XCTAssertEqual(fixture.dataplane.staticRoutes, [:])
        XCTAssertEqual(try fixture.store.routes(), [])

        let ok = try send("POST", "/v1/routes/bulk", json: #"""
            {"routes": [{"prefix": "10.80.0.0/16", "nextHop": "10.61.0.5"}, {"prefix": "10.81.0.0/24", "nextHop": "10.61.0.6"}]}
            """#)
        XCTAssertEqual(ok.status, 201, ok.bodyText)
        XCTAssertEqual(fixture.dataplane.routeBatches, 1, "one batch, one barrier")
        XCTAssertEqual(fixture.dataplane.staticRoutes.count, 2)

        fixture.dataplane.failAddRoutes = .invalid("boom")
        let failed = try send("POST", "/v1/routes/bulk", json: #"{"routes": [{"prefix": "10.90.0.0/16", "nextHop": "10.61.0.5"}]}"#)
        XCTAssertEqual(failed.status, 400, failed.bodyText)
        XCTAssertEqual(try fixture.store.routes().count, 2, "the failed batch left no records")
    }

    func testRoutesSurviveRestart() throws {
        XCTAssertEqual(try send("POST", "/v1/routes", json: #"{"prefix": "10.70.0.0/16", "nextHop": "10.61.0.5"}"#).status, 201)
        server.stop()
        let reopened = try StateStore(path: fixture.directory + "/state/state.db")
        let fresh = FakeDataplane()
        let report = try Reconciler(store: reopened, dataplane: fresh, provisioner: fixture.provisioner,
                                    log: ControlFixture.quietLog).run()
        XCTAssertEqual(report.routesRestored, ["10.70.0.0/16"])
        XCTAssertEqual(report.failures, [])
        XCTAssertEqual(fresh.staticRoutes, ["10.70.0.0/16": 0x0A3D_0005])
        XCTAssertNotNil(fresh.gateways[1], "the gateway is set before the routes that need it")
    }
}
