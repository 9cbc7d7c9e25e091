import Foundation
import XCTest
@testable import WeftControl

/// `POST/GET/DELETE /v1/tunnels`, spanning networks (VNI, IPAM range) and
/// their restore, through a real unix socket with the fake dataplane.
final class TunnelAPITests: APITestCase {
    override func setUpWithError() throws {
        try super.setUpWithError()
        fixture.provisioner.hostLinks = ["up0"]
    }

    private func assertError(_ response: UnixHTTPClient.Response, status: Int, code: String, field: String? = nil,
                             file: StaticString = #filePath, line: UInt = #line) throws {
        XCTAssertEqual(response.status, status, response.bodyText, file: file, line: line)
        let error = try JSONDecoder().decode(ErrorResponse.self, from: Data(response.body)).error
        XCTAssertEqual(error.code, code, error.message, file: file, line: line)
        XCTAssertEqual(error.field, field, error.message, file: file, line: line)
    }

    func testSpanningNetworkDefaultsAndRange() throws {
        let created = try send("POST", "/v1/networks",
                               json: #"{"name": "ov", "subnet": "10.99.0.0/24", "vni": 42, "rangeStart": "10.99.0.100", "rangeEnd": "10.99.0.101"}"#)
        XCTAssertEqual(created.status, 201, created.bodyText)
        let info = try JSONDecoder().decode(NetworkInfo.self, from: Data(created.body))
        XCTAssertEqual(info.mtu, 1450, "a spanning network's MTU leaves room for 50 bytes of VXLAN")
        XCTAssertEqual(info.vni, 42)
        XCTAssertEqual(info.remoteVteps, [])
        // IPAM hands out this node's range only, then says it is exhausted.
        let ns = fixture.addNamespace("c")
        var addresses: [String] = []
        for i in 0..<2 {
            let r = try send("POST", "/v1/attachments", json: #"{"containerId": "c\#(i)", "netns": "\#(ns)", "network": "ov"}"#)
            XCTAssertEqual(r.status, 201, r.bodyText)
            addresses.append(try JSONDecoder().decode(AttachmentInfo.self, from: Data(r.body)).address)
        }
        XCTAssertEqual(addresses, ["10.99.0.100/24", "10.99.0.101/24"])
        try assertError(try send("POST", "/v1/attachments", json: #"{"containerId": "c9", "netns": "\#(ns)", "network": "ov"}"#),
                        status: 409, code: "subnet_exhausted", field: "network")
        // Validation of the new fields.
        try assertError(try send("POST", "/v1/networks", json: #"{"name": "x", "subnet": "10.98.0.0/24", "vni": 0}"#),
                        status: 400, code: "invalid_field", field: "vni")
        try assertError(try send("POST", "/v1/networks", json: #"{"name": "x", "subnet": "10.98.0.0/24", "vni": 16777216}"#),
                        status: 400, code: "invalid_field", field: "vni")
        try assertError(try send("POST", "/v1/networks", json: #"{"name": "x", "subnet": "10.98.0.0/24", "vni": 42}"#),
                        status: 409, code: "vni_in_use", field: "vni")
        try assertError(try send("POST", "/v1/networks", json: #"{"name": "x", "subnet": "10.98.0.0/24", "rangeStart": "10.98.0.9"}"#),
                        status: 400, code: "invalid_field", field: "rangeEnd")
        try assertError(try send("POST", "/v1/networks", json: #"{"name": "x", "subnet": "10.98.0.0/24", "rangeStart": "10.98.0.1", "rangeEnd": "10.98.0.9"}"#),
                        status: 400, code: "invalid_field", field: "rangeStart")
        try assertError(try send("POST", "/v1/networks", json: #"{"name": "x", "subnet": "10.98.0.0/24", "rangeStart": "10.98.0.9", "rangeEnd": "10.98.0.8"}"#),
                        status: 400, code: "invalid_field", field: "rangeEnd")
    }

    func testTunnelLifecycleAndRestore() throws {
        XCTAssertEqual(try send("POST", "/v1/networks", json: #"{"name": "ov", "subnet": "10.99.0.0/24", "vni": 42}"#).status, 201)
        // No uplink: no local VTEP address.
        try assertError(try send("POST", "/v1/tunnels", json: #"{"network": "ov", "remote": "192.0.2.3"}"#),
                        status: 409, code: "uplink_not_configured")
        XCTAssertEqual(try send("POST", "/v1/uplink", json: #"{"name": "up0", "address": "192.0.2.2/24"}"#).status, 201)

        let r = try send("POST", "/v1/tunnels", json: #"{"network": "ov", "remote": "192.0.2.3"}"#)
        XCTAssertEqual(r.status, 201, r.bodyText)
        let t = try JSONDecoder().decode(TunnelInfo.self, from: Data(r.body))
        XCTAssertEqual(t.local, "192.0.2.2")
        XCTAssertEqual(t.vni, 42)
        XCTAssertEqual(t.port, 4789)
        XCTAssertEqual(t.mtu, 1450)
        XCTAssertNotNil(t.swIfIndex)
        let programmed = fixture.dataplane.tunnels[t.name]
        XCTAssertEqual(programmed, FakeDataplane.Tunnel(bridgeDomain: 1, local: 0xC000_0202, remote: 0xC000_0203, vni: 42, port: 4789, mtu: 1450))

        // Bad input: each a 4xx naming the field, and nothing recorded.
        try assertError(try send("POST", "/v1/tunnels", json: #"{"network": "ov", "remote": "192.0.2.3"}"#),
                        status: 409, code: "tunnel_exists", field: "remote")
        try assertError(try send("POST", "/v1/tunnels", json: #"{"network": "ov", "remote": "nope"}"#),
                        status: 400, code: "invalid_field", field: "remote")
        try assertError(try send("POST", "/v1/tunnels", json: #"{"network": "ov", "remote": "224.0.0.5"}"#),
                        status: 400, code: "invalid_field", field: "remote")
        try assertError(try send("POST", "/v1/tunnels", json: #"{"network": "ov", "remote": "192.0.2.2"}"#),
                        status: 400, code: "invalid_field", field: "remote")
        try assertError(try send("POST", "/v1/tunnels", json: #"{"network": "ov", "remote": "192.0.2.4", "port": 70000}"#),
                        status: 400, code: "invalid_field", field: "port")
        try assertError(try send("POST", "/v1/tunnels", json: #"{"network": "nope", "remote": "192.0.2.4"}"#),
                        status: 404, code: "network_not_found", field: "network")
        XCTAssertEqual(try fixture.store.tunnels().count, 1)

        // A failed dataplane add leaves no record behind.
        fixture.dataplane.failAddTunnel = .conflict("interface table is full")
        XCTAssertEqual(try send("POST", "/v1/tunnels", json: #"{"network": "ov", "remote": "192.0.2.9"}"#).status, 409)
        fixture.dataplane.failAddTunnel = nil
        XCTAssertEqual(try fixture.store.tunnels().count, 1)

        // The network lists its remote VTEPs; it and the uplink cannot go while tunnels use them.
        let net = try JSONDecoder().decode(NetworkInfo.self, from: Data(try send("GET", "/v1/networks/ov").body))
        XCTAssertEqual(net.remoteVteps, ["192.0.2.3"])
        try assertError(try send("DELETE", "/v1/networks/ov"), status: 409, code: "network_in_use")
        try assertError(try send("DELETE", "/v1/uplink"), status: 409, code: "uplink_has_tunnels")
        let list = try JSONDecoder().decode([TunnelInfo].self, from: Data(try send("GET", "/v1/tunnels").body))
        XCTAssertEqual(list.map(\.name), [t.name])

        // Restart: the reconciler programs the tunnel again, after the uplink.
        let fresh = FakeDataplane()
        let report = try Reconciler(store: fixture.store, dataplane: fresh, provisioner: fixture.provisioner,
                                    log: ControlFixture.quietLog).run()
        XCTAssertEqual(report.tunnelsRestored, [t.name])
        XCTAssertEqual(fresh.tunnels[t.name], programmed)

        XCTAssertEqual(try send("DELETE", "/v1/tunnels/\(t.name)").status, 204)
        XCTAssertTrue(fixture.dataplane.tunnels.isEmpty)
        try assertError(try send("DELETE", "/v1/tunnels/\(t.name)"), status: 404, code: "tunnel_not_found")
        XCTAssertEqual(try send("DELETE", "/v1/networks/ov").status, 204)
    }
}
