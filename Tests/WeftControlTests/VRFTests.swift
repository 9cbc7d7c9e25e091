import Foundation
import GRDB
import XCTest
@testable import WeftControl

/// VRFs through the API with the fake dataplane: the vrf fields of networks
/// and routes, their validation, subnet overlap per VRF, NAT refusing other
/// VRFs, the compact bulk form, and the store round trip (migration, restart).
final class VRFAPITests: APITestCase {
    @discardableResult
    private func assertError(_ response: UnixHTTPClient.Response, status: Int, code: String, field: String? = nil,
                             file: StaticString = #filePath, line: UInt = #line) throws -> ErrorResponse.Detail {
        XCTAssertEqual(response.status, status, response.bodyText, file: file, line: line)
        let error = try JSONDecoder().decode(ErrorResponse.self, from: Data(response.body)).error
        XCTAssertEqual(error.code, code, error.message, file: file, line: line)
        XCTAssertEqual(error.field, field, error.message, file: file, line: line)
        return error
    }

    private func network(_ name: String, _ subnet: String, vrf: Int? = nil, extra: String = "") throws -> UnixHTTPClient.Response {
        try send("POST", "/v1/networks", json: #"{"name": "\#(name)", "subnet": "\#(subnet)""# + (vrf.map { #", "vrf": \#($0)"# } ?? "") + extra + "}")
    }

    func testNetworkVRFValidationAndOverlapPerVRF() throws {
        let blue = try network("blue", "10.61.0.0/24")
        XCTAssertEqual(blue.status, 201, blue.bodyText)
        XCTAssertNil(try JSONDecoder().decode(NetworkInfo.self, from: Data(blue.body)).vrf, "vrf 0 is left out of answers")
        XCTAssertEqual(fixture.dataplane.gatewayVRFs[1], 0)

        let out = try assertError(try network("x", "10.62.0.0/24", vrf: 1024), status: 400, code: "invalid_field", field: "vrf")
        XCTAssertTrue(out.message.contains("0 to 1023"), out.message)
        try assertError(try network("x", "10.62.0.0/24", vrf: -1), status: 400, code: "invalid_field", field: "vrf")
        try assertError(try send("POST", "/v1/networks", json: #"{"name": "x", "subnet": "10.62.0.0/24", "vrf": "one"}"#),
                        status: 400, code: "invalid_field", field: "vrf")

        // Same VRF: no overlap, in either direction.
        let same = try assertError(try network("red", "10.61.0.0/24"), status: 409, code: "subnet_overlaps", field: "subnet")
        XCTAssertTrue(same.message.contains("\"blue\""), same.message)
        try assertError(try network("red", "10.61.0.0/16"), status: 409, code: "subnet_overlaps", field: "subnet")
        try assertError(try network("red", "10.61.0.128/25"), status: 409, code: "subnet_overlaps", field: "subnet")

        // Another VRF: the same subnet is fine, once.
        let green = try network("green", "10.61.0.0/24", vrf: 1)
        XCTAssertEqual(green.status, 201, green.bodyText)
        let info = try JSONDecoder().decode(NetworkInfo.self, from: Data(green.body))
        XCTAssertEqual(info.vrf, 1)
        XCTAssertEqual(fixture.dataplane.gatewayVRFs[info.bridgeDomain], 1)
        XCTAssertEqual(fixture.dataplane.gateways[info.bridgeDomain]?.address, 0x0A3D_0001)
        try assertError(try network("teal", "10.61.0.0/23", vrf: 1), status: 409, code: "subnet_overlaps", field: "subnet")
        XCTAssertEqual(try network("teal", "10.61.0.0/24", vrf: 2).status, 201)
        XCTAssertEqual(try fixture.store.networks().map(\.vrf), [0, 1, 2], "blue, green, teal")
        XCTAssertEqual(try JSONDecoder().decode(NetworkInfo.self, from: Data(try send("GET", "/v1/networks/green").body)).vrf, 1)
    }

    func testNATAndUplinkStayInVRF0() throws {
        fixture.provisioner.hostLinks = ["up0"]
        XCTAssertEqual(try send("POST", "/v1/uplink", json: #"{"name": "up0", "address": "192.0.2.2/24", "gateway": "192.0.2.1"}"#).status, 201)
        let masq = try assertError(try network("red", "10.63.0.0/24", vrf: 1, extra: #", "masquerade": true"#),
                                   status: 400, code: "invalid_field", field: "masquerade")
        XCTAssertTrue(masq.message.contains("vrf 0"), masq.message)
        XCTAssertEqual(try fixture.store.networks(), [], "nothing recorded")

        // The uplink's subnet is vrf 0's: another VRF may reuse it, vrf 0 may not.
        try assertError(try network("up", "192.0.2.0/24"), status: 409, code: "subnet_overlaps_uplink", field: "subnet")
        XCTAssertEqual(try network("tenant", "192.0.2.0/24", vrf: 3).status, 201)

        // Port mappings go only to vrf 0 networks.
        XCTAssertEqual(try network("green", "10.64.0.0/24", vrf: 1).status, 201)
        let mapping = try assertError(try send("POST", "/v1/nat/mappings",
                                               json: #"{"protocol": "tcp", "externalPort": 8080, "internalAddress": "10.64.0.2", "internalPort": 80}"#),
                                      status: 400, code: "invalid_field", field: "internalAddress")
        XCTAssertTrue(mapping.message.contains("green"), mapping.message)

        // A route via the uplink's subnet is vrf 0 only.
        try assertError(try send("POST", "/v1/routes", json: #"{"prefix": "10.90.0.0/16", "nextHop": "192.0.2.7", "vrf": 1}"#),
                        status: 400, code: "invalid_field", field: "nextHop")
        XCTAssertEqual(try send("POST", "/v1/routes", json: #"{"prefix": "10.90.0.0/16", "nextHop": "192.0.2.7"}"#).status, 201)
        // vrf 3 reuses the uplink's subnet: its next hops there are the tenant network's hosts.
        XCTAssertEqual(try send("POST", "/v1/routes", json: #"{"prefix": "10.90.0.0/16", "nextHop": "192.0.2.7", "vrf": 3}"#).status, 201)
        XCTAssertEqual(fixture.dataplane.vrfRoutes, ["3:10.90.0.0/16": 0xC000_0207])
    }

    func testRoutesPerVRF() throws {
        XCTAssertEqual(try network("blue", "10.61.0.0/24").status, 201)
        XCTAssertEqual(try network("green", "10.61.0.0/24", vrf: 1).status, 201)

        func post(_ prefix: String, _ nextHop: String, vrf: Int?) throws -> UnixHTTPClient.Response {
            try send("POST", "/v1/routes", json: #"{"prefix": "\#(prefix)", "nextHop": "\#(nextHop)""# + (vrf.map { #", "vrf": \#($0)"# } ?? "") + "}")
        }
        let r1 = try post("10.70.0.0/16", "10.61.0.5", vrf: 1)
        XCTAssertEqual(r1.status, 201, r1.bodyText)
        XCTAssertEqual(try JSONDecoder().decode(AddRouteRequest.self, from: Data(r1.body)),
                       AddRouteRequest(prefix: "10.70.0.0/16", nextHop: "10.61.0.5", vrf: 1))
        XCTAssertEqual(try post("10.70.0.0/16", "10.61.0.6", vrf: nil).status, 201, "the same prefix in vrf 0")
        try assertError(try post("10.70.0.0/16", "10.61.0.7", vrf: 1), status: 409, code: "route_exists", field: "prefix")
        let noNet = try assertError(try post("10.71.0.0/16", "10.61.0.5", vrf: 2), status: 400, code: "invalid_field", field: "nextHop")
        XCTAssertTrue(noNet.message.contains("vrf 2"), noNet.message)
        try assertError(try post("10.71.0.0/16", "10.61.0.5", vrf: 4096), status: 400, code: "invalid_field", field: "vrf")
        try assertError(try post("10.61.0.0/24", "10.61.0.5", vrf: 1), status: 409, code: "route_is_connected", field: "prefix")
        XCTAssertEqual(fixture.dataplane.staticRoutes, ["10.70.0.0/16": 0x0A3D_0006])
        XCTAssertEqual(fixture.dataplane.vrfRoutes, ["1:10.70.0.0/16": 0x0A3D_0005])

        let all = try JSONDecoder().decode([AddRouteRequest].self, from: Data(try send("GET", "/v1/routes/static").body))
        XCTAssertEqual(Set(all.map { "\($0.vrf ?? 0) \($0.prefix) \($0.nextHop)" }), ["1 10.70.0.0/16 10.61.0.5", "0 10.70.0.0/16 10.61.0.6"])
        let one = try JSONDecoder().decode([AddRouteRequest].self, from: Data(try send("GET", "/v1/routes/static?vrf=1").body))
        XCTAssertEqual(one, [AddRouteRequest(prefix: "10.70.0.0/16", nextHop: "10.61.0.5", vrf: 1)])
        try assertError(try send("GET", "/v1/routes/static?vrf=x"), status: 400, code: "invalid_parameter", field: "vrf")
        try assertError(try send("GET", "/v1/routes?vrf=5000"), status: 400, code: "invalid_field", field: "vrf")

        let fib = try JSONDecoder().decode([RouteInfo].self, from: Data(try send("GET", "/v1/routes?vrf=1&prefix=10.70.1.1").body))
        XCTAssertEqual(fib.map(\.prefix), ["10.70.0.0/16"])
        XCTAssertEqual(fib.first?.vrf, 1)
        XCTAssertEqual(fib.first?.nextHop, "10.61.0.5")

        // The network of vrf 1 is held by vrf 1's route, blue by vrf 0's.
        try assertError(try send("DELETE", "/v1/networks/green"), status: 409, code: "network_has_routes")
        try assertError(try send("DELETE", "/v1/routes?prefix=10.70.0.0/16&vrf=2"), status: 404, code: "route_not_found", field: "prefix")
        XCTAssertEqual(try send("DELETE", "/v1/routes/10.70.0.0/16?vrf=1").status, 204)
        XCTAssertEqual(fixture.dataplane.vrfRoutes, [:])
        XCTAssertEqual(fixture.dataplane.staticRoutes.count, 1, "vrf 0's route stays")
        XCTAssertEqual(try send("DELETE", "/v1/networks/green").status, 204)
        try assertError(try send("DELETE", "/v1/networks/blue"), status: 409, code: "network_has_routes")
    }

    func testBulkTextForm() throws {
        XCTAssertEqual(try network("green", "10.61.0.0/24", vrf: 1).status, 201)
        let ok = try send("POST", "/v1/routes/bulk",
                          json: ##"{"vrf": 1, "text": "# routes\n10.80.0.0/16 10.61.0.5\n\n10.81.0.0/24\tvia 10.61.0.6   # comment\r\n10.82.0.0/15 10.61.0.7"}"##)
        XCTAssertEqual(ok.status, 201, ok.bodyText)
        XCTAssertEqual(try JSONDecoder().decode(BulkRoutesResponse.self, from: Data(ok.body)), BulkRoutesResponse(added: 3))
        XCTAssertEqual(fixture.dataplane.vrfRoutes.count, 3)
        XCTAssertEqual(fixture.dataplane.routeBatches, 1)
        XCTAssertEqual(try fixture.store.routes(vrf: 1).map(\.prefix), ["10.80.0.0/16", "10.81.0.0/24", "10.82.0.0/15"])

        // Errors name the line (firstLine: where this text starts in the file); nothing is added.
        let cases: [(String, String, Int, String)] = [
            (#"10.90.0.0/16 10.61.0.5\nbanana"#, "text", 400, "line 11"),
            (#"10.90.0.1/16 10.61.0.5"#, "prefix", 400, "host bits"),
            (#"10.90.0.0/16 10.61.0.5\n10.91.0.0/33 10.61.0.5"#, "prefix", 400, "line 11"),
            (#"10.90.0.0/16 10.61.0.5\n10.91.0.0/16 10.61.0.300"#, "nextHop", 400, "line 11"),
            (#"10.90.0.0/16 10.61.0.5\n10.90.0.0/16 10.61.0.6"#, "prefix", 409, "appears twice"),
            (#"10.80.0.0/16 10.61.0.9"#, "prefix", 409, "already exists"),
            (#"10.92.0.0/16 10.62.0.9"#, "nextHop", 400, "vrf 1"),
        ]
        for (text, field, status, needle) in cases {
            let r = try send("POST", "/v1/routes/bulk", json: #"{"vrf": 1, "firstLine": 10, "text": "\#(text)"}"#)
            XCTAssertEqual(r.status, status, "\(text): \(r.bodyText)")
            let error = try JSONDecoder().decode(ErrorResponse.self, from: Data(r.body)).error
            XCTAssertEqual(error.field, field, "\(text): \(error.message)")
            XCTAssertTrue(error.message.contains(needle), "\(text): \(error.message)")
        }
        try assertError(try send("POST", "/v1/routes/bulk", json: ##"{"text": "# nothing\n"}"##), status: 400, code: "invalid_field", field: "routes")
        XCTAssertEqual(fixture.dataplane.vrfRoutes.count, 3)
        XCTAssertEqual(try fixture.store.routes().count, 3)

        // A dataplane failure leaves no record (the transaction is rolled back).
        fixture.dataplane.failAddRoutes = .conflict("groups exhausted")
        try assertError(try send("POST", "/v1/routes/bulk", json: #"{"vrf": 1, "text": "10.95.0.0/16 10.61.0.5"}"#),
                        status: 409, code: "dataplane_conflict")
        XCTAssertEqual(try fixture.store.routes().count, 3)
    }

    /// Networks and routes of several VRFs come back after a restart, the
    /// gateways before the routes that need them.
    func testStoreRoundTripAndRestore() throws {
        XCTAssertEqual(try network("blue", "10.61.0.0/24").status, 201)
        XCTAssertEqual(try network("green", "10.61.0.0/24", vrf: 1).status, 201)
        XCTAssertEqual(try send("POST", "/v1/routes", json: #"{"prefix": "10.70.0.0/16", "nextHop": "10.61.0.5"}"#).status, 201)
        XCTAssertEqual(try send("POST", "/v1/routes/bulk", json: #"{"vrf": 1, "text": "10.70.0.0/16 10.61.0.9\n10.71.0.0/16 10.61.0.9"}"#).status, 201)
        server.stop()

        let reopened = try StateStore(path: fixture.directory + "/state/state.db")
        XCTAssertEqual(try reopened.networks().map { "\($0.name) \($0.vrf)" }, ["blue 0", "green 1"])
        XCTAssertEqual(try reopened.routes().map { "\($0.vrf) \($0.prefix) \($0.nextHop)" },
                       ["0 10.70.0.0/16 10.61.0.5", "1 10.70.0.0/16 10.61.0.9", "1 10.71.0.0/16 10.61.0.9"])
        XCTAssertEqual(try reopened.route(prefix: "10.71.0.0/16", vrf: 1)?.nextHop, "10.61.0.9")
        XCTAssertNil(try reopened.route(prefix: "10.71.0.0/16"))
        let fresh = FakeDataplane()
        let report = try Reconciler(store: reopened, dataplane: fresh, provisioner: fixture.provisioner,
                                    log: ControlFixture.quietLog).run()
        XCTAssertEqual(report.failures, [])
        XCTAssertEqual(report.routesRestored.count, 3)
        XCTAssertEqual(fresh.gatewayVRFs, [1: 0, 2: 1])
        XCTAssertEqual(fresh.staticRoutes, ["10.70.0.0/16": 0x0A3D_0005])
        XCTAssertEqual(fresh.vrfRoutes, ["1:10.70.0.0/16": 0x0A3D_0009, "1:10.71.0.0/16": 0x0A3D_0009])
        XCTAssertEqual(fresh.routeBatches, 1, "restored in one batch, not one call per route")
    }

    /// A route the dataplane refuses on restore is reported; the rest come back.
    func testRestoreRetriesAFailedBatchRouteByRoute() throws {
        let records = [StateStore.StoredRoute(vrf: 0, prefix: "10.70.0.0/16", nextHop: "10.61.0.5"),
                       StateStore.StoredRoute(vrf: 2, prefix: "10.71.0.0/16", nextHop: "10.61.0.5"),
                       StateStore.StoredRoute(vrf: 0, prefix: "10.72.0.1/16", nextHop: "10.61.0.5")]
        let dataplane = FakeDataplane()
        dataplane.failAddRoutes = .invalid("no")
        let result = RouteService.restore(records, dataplane: dataplane)
        XCTAssertEqual(result.restored, [])
        XCTAssertEqual(result.failures.map(\.0.prefix), ["10.72.0.1/16", "10.70.0.0/16", "10.71.0.0/16"],
                       "the unreadable record first, then the refused batch route by route")
        dataplane.failAddRoutes = nil
        let ok = RouteService.restore(records, dataplane: dataplane, batch: 1)
        XCTAssertEqual(ok.restored, ["10.70.0.0/16", "10.71.0.0/16"])
        XCTAssertEqual(ok.failures.map(\.1), ["unreadable record 10.72.0.1/16 via 10.61.0.5 vrf 0"])
        XCTAssertEqual(dataplane.routeBatches, 2)
        XCTAssertEqual(dataplane.vrfRoutes, ["2:10.71.0.0/16": 0x0A3D_0005])
    }
}

final class VRFMigrationTests: XCTestCase {
    /// A state.db from before VRFs (v8) keeps its networks and routes, all in vrf 0.
    func testAVersion8DatabaseIsMigratedInPlace() throws {
        let directory = try makeTemporaryDirectory(self)
        let path = directory + "/state.db"
        do {
            let old = try DatabaseQueue(path: path)
            try StateMigrations.migrator.migrate(old, upTo: "v8-io-drivers")
            try old.write { db in
                try db.execute(sql: """
                    INSERT INTO networks (name, bridge_domain, subnet, mtu, mac_age_seconds, learn_limit, created_at)
                    VALUES ('blue', 1, '10.61.0.0/24', 1500, 300, 4096, '2026-01-01 00:00:00.000');
                    INSERT INTO routes (prefix, next_hop, created_at) VALUES ('10.70.0.0/16', '10.61.0.5', '2026-01-01 00:00:01.000');
                    INSERT INTO routes (prefix, next_hop, created_at) VALUES ('10.71.0.0/16', '10.61.0.6', '2026-01-01 00:00:02.000');
                    """)
            }
        }
        let store = try StateStore(path: path)
        XCTAssertEqual(try store.networks().map(\.vrf), [0])
        XCTAssertEqual(try store.routes().map { "\($0.vrf) \($0.prefix) \($0.nextHop)" },
                       ["0 10.70.0.0/16 10.61.0.5", "0 10.71.0.0/16 10.61.0.6"])
        // The new key is (vrf, prefix): the same prefix may now exist in another VRF.
        try store.createRoutes([(1, "10.70.0.0/16", "10.61.0.9")])
        XCTAssertControlError(try store.createRoutes([(0, "10.70.0.0/16", "10.61.0.9")]), code: "route_exists", field: "prefix", status: 409)
        XCTAssertEqual(try store.routes(vrf: 1).map(\.nextHop), ["10.61.0.9"])
    }
}
