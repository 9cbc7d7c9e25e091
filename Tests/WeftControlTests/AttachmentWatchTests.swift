import XCTest
@testable import WeftControl

final class AttachmentWatchTests: XCTestCase {
    /// A container whose netns vanished is detached (lease and port freed), a
    /// veth and a TAP deleted by hand come back as they were, the rest is
    /// untouched, and a second sweep finds nothing to do.
    func testSweepDetachesOrphansAndRecreatesLostLinks() throws {
        let f = try ControlFixture(self)
        _ = try f.networks.create(CreateNetworkRequest(name: "blue", subnet: "10.1.0.0/24"))
        var host: [String: String] = [:]
        for (container, mode) in [("alive", "veth"), ("gone", "veth"), ("lostveth", "veth"), ("losttap", "tap")] {
            let netns = f.addNamespace(container)
            host[container] = try f.attachments.attach(
                CreateAttachmentRequest(containerId: container, netns: netns, network: "blue", attach: mode)).hostIfName
        }
        let lostSpec = try XCTUnwrap(f.provisioner.links[host["lostveth"]!])
        f.provisioner.namespaces.remove("/var/run/netns/gone")
        f.provisioner.links[host["gone"]!] = nil                        // the kernel took the veth with the netns
        f.provisioner.links[host["lostveth"]!] = nil                    // `ip link del` of the host end
        f.provisioner.taps["/var/run/netns/losttap|eth0"] = nil         // `ip link del eth0` in the container
        let leaseOfGone = try XCTUnwrap(try f.store.attachment(containerId: "gone", ifName: "eth0")).address

        let watch = AttachmentWatch(store: f.store, dataplane: f.dataplane, provisioner: f.provisioner, log: ControlFixture.quietLog)
        XCTAssertEqual(watch.sweep(), .init(netnsGone: 1, linksRecreated: 2, failures: 0))

        XCTAssertEqual(try f.store.attachments().map(\.containerId).sorted(), ["alive", "losttap", "lostveth"])
        XCTAssertFalse(try f.store.leases(network: "blue").map(\.address).contains(leaseOfGone))
        XCTAssertNil(f.dataplane.interfacesByName[host["gone"]!])
        let rebuilt = try XCTUnwrap(f.provisioner.links[host["lostveth"]!])
        XCTAssertEqual(rebuilt.mac, lostSpec.mac)
        XCTAssertEqual(rebuilt.address, lostSpec.address)
        XCTAssertNotNil(f.provisioner.taps["/var/run/netns/losttap|eth0"])
        for name in ["alive", "lostveth", "losttap"] {
            XCTAssertEqual(f.dataplane.interfacesByName[host[name]!]?.bridgeDomain, 1, name)
        }

        XCTAssertEqual(watch.sweep(), .init())
        XCTAssertEqual(watch.totals, .init(netnsGone: 1, linksRecreated: 2, failures: 0))
    }

    /// A repair that fails is counted and retried by the next sweep.
    func testFailedRepairIsRetried() throws {
        let f = try ControlFixture(self)
        _ = try f.networks.create(CreateNetworkRequest(name: "blue", subnet: "10.1.0.0/24"))
        let netns = f.addNamespace("c")
        let name = try f.attachments.attach(CreateAttachmentRequest(containerId: "c", netns: netns, network: "blue")).hostIfName
        f.provisioner.links[name] = nil
        f.provisioner.failCreate = NetnsError(errno: 12, message: "out of memory")

        let watch = AttachmentWatch(store: f.store, dataplane: f.dataplane, provisioner: f.provisioner, log: ControlFixture.quietLog)
        XCTAssertEqual(watch.sweep(), .init(netnsGone: 0, linksRecreated: 0, failures: 1))
        f.provisioner.failCreate = nil
        XCTAssertEqual(watch.sweep(), .init(netnsGone: 0, linksRecreated: 1, failures: 0))
        XCTAssertNotNil(f.provisioner.links[name])
        XCTAssertNotNil(f.dataplane.interfacesByName[name])
    }

    /// The veth comes back but the dataplane refuses the port: the new veth
    /// is taken away again, so the next sweep sees the link missing and
    /// retries (a veth left behind unplugged would look healthy forever).
    func testRecreatedVethIsRemovedWhenThePortCannotBePlugged() throws {
        let f = try ControlFixture(self)
        _ = try f.networks.create(CreateNetworkRequest(name: "blue", subnet: "10.1.0.0/24"))
        let netns = f.addNamespace("c")
        let name = try f.attachments.attach(CreateAttachmentRequest(containerId: "c", netns: netns, network: "blue")).hostIfName
        f.provisioner.links[name] = nil
        f.dataplane.failAddInterface = .system("no buffers for the rings")

        let watch = AttachmentWatch(store: f.store, dataplane: f.dataplane, provisioner: f.provisioner, log: ControlFixture.quietLog)
        XCTAssertEqual(watch.sweep(), .init(netnsGone: 0, linksRecreated: 0, failures: 1))
        XCTAssertNil(f.provisioner.links[name], "an unplugged veth was left behind")
        f.dataplane.failAddInterface = nil
        XCTAssertEqual(watch.sweep(), .init(netnsGone: 0, linksRecreated: 1, failures: 0))
        XCTAssertNotNil(f.dataplane.interfacesByName[name])
    }
}
