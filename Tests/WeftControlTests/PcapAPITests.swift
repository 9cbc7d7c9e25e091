import Foundation
import XCTest
@testable import WeftControl

/// /v1/captures and /v1/replays through the real API server and the fake
/// dataplane: request checks, status codes and error codes.
final class PcapAPITests: APITestCase {
    var dir: String { fixture.directory }

    func code(_ r: UnixHTTPClient.Response) -> String? {
        (try? JSONDecoder().decode(ErrorResponse.self, from: Data(r.body)))?.error.code
    }

    func testCaptureRequestsAreCheckedAndOneRunsAtATime() throws {
        fixture.dataplane.interfacesByName["wf1"] = .init(index: 1, bridgeDomain: 1)
        XCTAssertEqual(try send("GET", "/v1/captures").bodyText.contains("\"idle\""), true)
        let bad: [(String, Int, String)] = [
            (#"{"interface":"wf1","file":"relative.pcap"}"#, 400, "invalid_field"),
            (#"{"interface":"wf1","file":"/no-such-dir-weft/x.pcap"}"#, 400, "invalid_field"),
            (#"{"interface":"wf1","file":"\#(dir)"}"#, 400, "invalid_field"),
            (#"{"interface":"wf1","direction":"up","file":"\#(dir)/x.pcap"}"#, 400, "invalid_field"),
            (#"{"interface":"wf1","node":"l2-input","file":"\#(dir)/x.pcap"}"#, 400, "invalid_field"),
            (#"{"node":"l2-input","direction":"rx","file":"\#(dir)/x.pcap"}"#, 400, "invalid_field"),
            (#"{"file":"\#(dir)/x.pcap"}"#, 400, "invalid_field"),
            (#"{"interface":"wf1","count":-1,"file":"\#(dir)/x.pcap"}"#, 400, "invalid_field"),
            (#"{"interface":"wf1","snaplen":0,"file":"\#(dir)/x.pcap"}"#, 400, "invalid_field"),
            (#"{"interface":"wf1","filter":"tcp port banana","file":"\#(dir)/x.pcap"}"#, 400, "invalid_filter"),
            (#"{"interface":"nope0","file":"\#(dir)/x.pcap"}"#, 404, "interface_not_found"),
            (#"{"node":"nope-node","file":"\#(dir)/x.pcap"}"#, 404, "node_not_found"),
        ]
        for (body, status, expected) in bad {
            let r = try send("POST", "/v1/captures", json: body)
            XCTAssertEqual(r.status, status, "\(body): \(r.bodyText)")
            XCTAssertEqual(code(r), expected, "\(body): \(r.bodyText)")
        }
        XCTAssertEqual(try send("POST", "/v1/captures", json: #"{"interface":"wf1","filter":"icmp","file":"\#(dir)/x.pcap"}"#).status, 201)
        let again = try send("POST", "/v1/captures", json: #"{"direction":"drop","file":"\#(dir)/y.pcap"}"#)
        XCTAssertEqual(again.status, 409)
        XCTAssertEqual(code(again), "capture_running")
        let stop = try send("DELETE", "/v1/captures")
        XCTAssertEqual(stop.status, 200)
        XCTAssertTrue(stop.bodyText.contains("\"stopped\""), stop.bodyText)
        XCTAssertEqual(code(try send("DELETE", "/v1/captures")), "no_capture")
        XCTAssertEqual(try send("POST", "/v1/captures", json: #"{"direction":"drop","file":"\#(dir)/y.pcap"}"#).status, 201)
        XCTAssertEqual(try send("PUT", "/v1/captures").status, 405)
    }

    func testReplayRequestsAreChecked() throws {
        _ = try fixture.networks.create(CreateNetworkRequest(name: "blue", subnet: "10.9.0.0/24"))
        let file = dir + "/f.pcap"
        _ = FileManager.default.createFile(atPath: file, contents: Data([1, 2, 3]))
        let bad: [(String, Int, String)] = [
            (#"{"name":"Bad Name","file":"\#(file)","network":"blue"}"#, 400, "invalid_field"),
            (#"{"name":"r","file":"f.pcap","network":"blue"}"#, 400, "invalid_field"),
            (#"{"name":"r","file":"\#(dir)/missing.pcap","network":"blue"}"#, 400, "invalid_field"),
            (#"{"name":"r","file":"\#(file)","network":"blue","count":-1}"#, 400, "invalid_field"),
            (#"{"name":"r","file":"\#(file)","network":"blue","rate":-5}"#, 400, "invalid_field"),
            (#"{"name":"r","file":"\#(file)","network":"green"}"#, 404, "network_not_found"),
        ]
        for (body, status, expected) in bad {
            let r = try send("POST", "/v1/replays", json: body)
            XCTAssertEqual(r.status, status, "\(body): \(r.bodyText)")
            XCTAssertEqual(code(r), expected, "\(body): \(r.bodyText)")
        }
        let ok = try send("POST", "/v1/replays", json: #"{"name":"r","file":"\#(file)","network":"blue","count":0,"rate":100}"#)
        XCTAssertEqual(ok.status, 201, ok.bodyText)
        XCTAssertEqual(code(try send("POST", "/v1/replays", json: #"{"name":"r","file":"\#(file)","network":"blue"}"#)), "replay_conflict")
        XCTAssertTrue(try send("GET", "/v1/replays").bodyText.contains("pcap-r"))
        XCTAssertEqual(try send("DELETE", "/v1/replays/r").status, 204)
        XCTAssertEqual(code(try send("DELETE", "/v1/replays/r")), "replay_not_found")
        XCTAssertEqual(try send("GET", "/v1/replays").bodyText, "[]")
    }
}
