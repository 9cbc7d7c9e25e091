import GRDB
import XCTest
@testable import WeftControl

/// Attachment bandwidth limits (CNI bandwidth capability): validated, stored,
/// handed to the dataplane's policers on attach and again on restart.
final class BandwidthTests: XCTestCase {
    private var fixture: ControlFixture!
    private var netns = ""
    private let limits = BandwidthLimits(ingressRate: 50_000_000, ingressBurst: 1_000_000,
                                         egressRate: 20_000_000, egressBurst: 500_000)

    override func setUpWithError() throws {
        fixture = try ControlFixture(self)
        _ = try fixture.networks.create(CreateNetworkRequest(name: "blue", subnet: "10.1.0.0/24"))
        netns = fixture.addNamespace("c1")
    }

    private func request(_ bandwidth: BandwidthLimits?, attach: String? = nil) -> CreateAttachmentRequest {
        CreateAttachmentRequest(containerId: "c1", netns: netns, network: "blue", attach: attach, bandwidth: bandwidth)
    }

    func testLimitsAreAppliedStoredAndShown() throws {
        let attachment = try fixture.attachments.attach(request(limits))
        XCTAssertEqual(attachment.bandwidth, limits)
        XCTAssertEqual(fixture.dataplane.bandwidths[attachment.hostIfName], limits)
        XCTAssertEqual(try fixture.store.attachment(containerId: "c1", ifName: "eth0")?.bandwidth, limits)
        XCTAssertEqual(try fixture.attachments.get(containerId: "c1", ifName: "eth0").bandwidth, limits)
        XCTAssertEqual(try fixture.attachments.list().first?.bandwidth, limits)
        try fixture.attachments.detach(containerId: "c1", ifName: "eth0")
        XCTAssertNil(fixture.dataplane.bandwidths[attachment.hostIfName])
    }

    func testOneDirectionAndTapAttachments() throws {
        let egressOnly = BandwidthLimits(egressRate: 1_000_000, egressBurst: 100_000)
        let attachment = try fixture.attachments.attach(request(egressOnly, attach: "tap"))
        XCTAssertEqual(attachment.bandwidth, egressOnly)
        XCTAssertEqual(fixture.dataplane.bandwidths[attachment.hostIfName], egressOnly)
    }

    func testNoLimitsMeansNoPolicerCall() throws {
        let attachment = try fixture.attachments.attach(request(BandwidthLimits()))
        XCTAssertNil(attachment.bandwidth, "an empty object is no limit")
        XCTAssertFalse(fixture.dataplane.calls.contains { $0.hasPrefix("setBandwidth") })
    }

    func testBadLimitsAre400WithTheField() throws {
        let cases: [(BandwidthLimits, String)] = [
            (BandwidthLimits(egressRate: 20_000_000), "bandwidth.egressBurst"),
            (BandwidthLimits(ingressRate: 20_000_000), "bandwidth.ingressBurst"),
            (BandwidthLimits(ingressBurst: 1000), "bandwidth.ingressRate"),
            (BandwidthLimits(egressRate: 0, egressBurst: 1000), "bandwidth.egressRate"),
            (BandwidthLimits(egressRate: -5, egressBurst: 1000), "bandwidth.egressRate"),
            (BandwidthLimits(ingressRate: 1000, ingressBurst: -1), "bandwidth.ingressBurst"),
        ]
        for (bad, field) in cases {
            XCTAssertControlError(try fixture.attachments.attach(request(bad)), code: "invalid_field", field: field, status: 400)
        }
        XCTAssertEqual(try fixture.store.attachments(), [])
        XCTAssertEqual(fixture.dataplane.interfacesByName.count, 0)
    }

    func testAFailingPolicerRollsTheAttachBack() throws {
        fixture.dataplane.failSetBandwidth = .system("policer table broken")
        XCTAssertControlError(try fixture.attachments.attach(request(limits)), code: "dataplane_error")
        XCTAssertEqual(try fixture.store.attachments(), [])
        XCTAssertEqual(try fixture.store.allLeases(), [])
        XCTAssertEqual(fixture.dataplane.interfacesByName.count, 0)
        XCTAssertEqual(fixture.provisioner.links.count, 0)
    }

    /// A state.db of an older weftd (schema up to v8) upgrades in place: its
    /// attachments come back unlimited, and limits can be stored after.
    func testOlderDatabaseUpgradesWithoutLimits() throws {
        let path = fixture.directory + "/old/state.db"
        try FileManager.default.createDirectory(atPath: fixture.directory + "/old", withIntermediateDirectories: true)
        let old = try DatabaseQueue(path: path)
        try StateMigrations.migrator.migrate(old, upTo: "v8-io-drivers")
        try old.write { db in
            try db.execute(sql: """
                INSERT INTO networks (name, bridge_domain, subnet, mtu, mac_age_seconds, learn_limit, created_at)
                VALUES ('blue', 1, '10.1.0.0/24', 1500, 300, 4096, '2026-11-23 10:00:00');
                INSERT INTO attachments (container_id, if_name, network, netns, host_if_name, mac, address, prefix_length, mtu, created_at)
                VALUES ('c0', 'eth0', 'blue', '/var/run/netns/c0', 'wf00000000', '02:fe:0a:01:00:02', '10.1.0.2', 24, 1500, '2026-11-23 10:00:00');
                """)
        }
        try old.close()
        let store = try StateStore(path: path)
        let record = try XCTUnwrap(try store.attachment(containerId: "c0", ifName: "eth0"))
        XCTAssertNil(record.bandwidth)
        XCTAssertNil(record.egressRate)
        let applied = try store.database.read { try StateMigrations.migrator.appliedIdentifiers($0) }
        XCTAssertTrue(applied.contains("v10-attachment-bandwidth"), "\(applied)")
        let ns = fixture.addNamespace("c2")
        let limited = try store.createAttachment(containerId: "c2", ifName: "eth0", network: "blue", netns: ns, mtu: nil,
                                                 bandwidth: limits)
        XCTAssertEqual(try store.attachment(containerId: "c2", ifName: "eth0")?.bandwidth, limited.bandwidth)
        XCTAssertEqual(limited.bandwidth, limits)
    }

    func testRestartReappliesTheLimits() throws {
        let attachment = try fixture.attachments.attach(request(limits))
        let store = try StateStore(path: fixture.store.path)
        let dataplane = FakeDataplane()
        let kernel = FakeVethProvisioner()
        kernel.namespaces = [netns]
        kernel.links = fixture.provisioner.links
        let report = try Reconciler(store: store, dataplane: dataplane, provisioner: kernel, log: ControlFixture.quietLog).run()
        XCTAssertEqual(report.failures, [])
        XCTAssertEqual(dataplane.bandwidths[attachment.hostIfName], limits)
    }
}
