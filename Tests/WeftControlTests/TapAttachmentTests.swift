import XCTest
@testable import WeftControl

/// Tap attachments: the TAP is made inside the container, its queues go to
/// the dataplane, and every failure or detach removes it again.
final class TapAttachmentTests: XCTestCase {
    private var fixture: ControlFixture!
    private var netns = ""

    override func setUpWithError() throws {
        fixture = try ControlFixture(self)
        _ = try fixture.networks.create(CreateNetworkRequest(name: "blue", subnet: "10.1.0.0/24"))
        netns = fixture.addNamespace("c1")
    }

    private func tapRequest(queues: Int? = nil) -> CreateAttachmentRequest {
        CreateAttachmentRequest(containerId: "c1", netns: netns, network: "blue", attach: "tap", queues: queues)
    }

    func testTapAttachMakesNoVethAndHandsTheQueuesToTheDataplane() throws {
        let attachment = try fixture.attachments.attach(tapRequest(queues: 3))
        XCTAssertEqual(attachment.attach, "tap")
        XCTAssertEqual(attachment.driver, "tap")
        XCTAssertEqual(attachment.queues, 3)
        XCTAssertEqual(attachment.hostMac, attachment.mac, "no host end: the TAP's own MAC")
        XCTAssertTrue(fixture.provisioner.links.isEmpty, "no veth")
        let spec = try XCTUnwrap(fixture.provisioner.taps["\(netns)|eth0"])
        XCTAssertEqual(spec.address, "10.1.0.2")
        XCTAssertEqual(spec.gateway, "10.1.0.1")
        XCTAssertEqual(fixture.provisioner.tapQueues["\(netns)|eth0"], 3)
        XCTAssertEqual(fixture.dataplane.calls.last, "addTapInterface \(attachment.hostIfName) 1 queues 3")
        let stored = try XCTUnwrap(try fixture.store.attachment(containerId: "c1", ifName: "eth0"))
        XCTAssertEqual(stored.attach, "tap")
        XCTAssertEqual(stored.queues, 3)

        try fixture.attachments.detach(containerId: "c1", ifName: "eth0")
        XCTAssertTrue(fixture.provisioner.taps.isEmpty, "detach deletes the TAP in the container")
        XCTAssertEqual(try fixture.store.allLeases(), [])
        XCTAssertEqual(fixture.dataplane.interfacesByName.count, 0)
    }

    func testRollbackWhenTheDataplaneRefusesTheTap() throws {
        fixture.dataplane.failAddInterface = .system("tap: too many ports")
        XCTAssertControlError(try fixture.attachments.attach(tapRequest()), code: "dataplane_error", status: 500)
        XCTAssertTrue(fixture.provisioner.taps.isEmpty, "the TAP made in the container is deleted again")
        XCTAssertEqual(try fixture.store.attachments(), [])
        XCTAssertEqual(try fixture.store.allLeases(), [])
    }

    func testOptionsThatMakeNoSenseAreRefusedNamingTheField() throws {
        let cases: [(CreateAttachmentRequest, String)] = [
            (CreateAttachmentRequest(containerId: "c1", netns: netns, network: "blue", attach: "macvlan"), "attach"),
            (CreateAttachmentRequest(containerId: "c1", netns: netns, network: "blue", attach: "tap", driver: "af-xdp"), "driver"),
            (CreateAttachmentRequest(containerId: "c1", netns: netns, network: "blue", driver: "dpdk"), "driver"),
            (CreateAttachmentRequest(containerId: "c1", netns: netns, network: "blue", queues: 2), "queues"),
            (tapRequest(queues: 0), "queues"),
            (tapRequest(queues: 9), "queues"),
        ]
        for (request, field) in cases {
            XCTAssertThrowsError(try fixture.attachments.attach(request)) { error in
                XCTAssertEqual((error as? ControlError)?.httpStatus, 400, "\(request)")
                XCTAssertEqual((error as? ControlError)?.field, field, "\(request)")
            }
        }
        XCTAssertEqual(try fixture.store.attachments(), [])
    }

    /// After a restart the persistent TAP is taken over (openTap), or made
    /// again when it is gone; a vanished namespace removes the attachment.
    func testRestartTakesOverOrRecreatesTaps() throws {
        let other = fixture.addNamespace("c2")
        let gone = fixture.addNamespace("c3")
        _ = try fixture.attachments.attach(tapRequest())
        _ = try fixture.attachments.attach(CreateAttachmentRequest(containerId: "c2", netns: other, network: "blue", attach: "tap"))
        _ = try fixture.attachments.attach(CreateAttachmentRequest(containerId: "c3", netns: gone, network: "blue", attach: "tap"))

        let store = try StateStore(path: fixture.store.path)
        let dataplane = FakeDataplane()
        let kernel = FakeVethProvisioner()
        kernel.namespaces = [netns, other]
        kernel.taps = fixture.provisioner.taps.filter { $0.key.hasPrefix(netns) }
        let report = try Reconciler(store: store, dataplane: dataplane, provisioner: kernel, log: ControlFixture.quietLog).run()
        XCTAssertEqual(report.interfacesReopened, ["c1/eth0"])
        XCTAssertEqual(report.vethsRecreated, ["c2/eth0"])
        XCTAssertEqual(report.attachmentsRemoved, ["c3/eth0"])
        XCTAssertEqual(kernel.created.map(\.netnsPath), [other], "only the lost TAP is made again")
        XCTAssertEqual(dataplane.calls.filter { $0.hasPrefix("addTapInterface") }.count, 2)
        XCTAssertEqual(try store.attachments().map(\.containerId).sorted(), ["c1", "c2"])
    }
}
