import XCTest
@testable import WeftControl

final class SourceGuardFollowerTests: XCTestCase {
    private func attach(_ f: ControlFixture, _ container: String) throws -> AttachmentInfo {
        try f.attachments.attach(CreateAttachmentRequest(containerId: container, netns: f.addNamespace(container), network: "blue"))
    }

    /// tuning's "mac" after weft's ADD: the pod's first frame flags the port,
    /// the next poll moves the guard and the record to the new MAC.
    func testChangedMACIsFollowed() throws {
        let f = try ControlFixture(self)
        _ = try f.networks.create(CreateNetworkRequest(name: "blue", subnet: "10.1.0.0/24"))
        let pod = try attach(f, "pod")
        let follower = f.attachments.sourceGuardFollower
        f.provisioner.changedMACs["/var/run/netns/pod|eth0"] = [0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0x01]
        let guardedIPv4 = try XCTUnwrap(f.dataplane.sourceGuards[pod.hostIfName]?.ipv4)

        follower.poll()   // nothing flagged: nothing looked at
        XCTAssertEqual(f.dataplane.sourceGuards[pod.hostIfName]?.mac, InterfaceIdentity.parse(mac: pod.mac))

        f.dataplane.sourceGuardMisses = [pod.hostIfName]
        follower.poll()
        XCTAssertEqual(f.dataplane.sourceGuards[pod.hostIfName]?.mac, [0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0x01])
        XCTAssertEqual(f.dataplane.sourceGuards[pod.hostIfName]?.ipv4, guardedIPv4)
        XCTAssertEqual(try f.store.attachment(containerId: "pod", ifName: "eth0")?.mac, "02:aa:bb:cc:dd:01")
        XCTAssertEqual(try f.attachments.get(containerId: "pod", ifName: "eth0").mac, "02:aa:bb:cc:dd:01")
        XCTAssertEqual(follower.totals, .init(followed: 1))
    }

    /// Frames forged from another MAC leave the interface's MAC alone: the
    /// guard stays, and a port that keeps forging costs one look per interval.
    func testForgedFramesAreNotFollowed() throws {
        let f = try ControlFixture(self)
        _ = try f.networks.create(CreateNetworkRequest(name: "blue", subnet: "10.1.0.0/24"))
        let pod = try attach(f, "pod")
        let follower = f.attachments.sourceGuardFollower
        let guarded = f.dataplane.sourceGuards[pod.hostIfName]
        for _ in 0..<3 {
            f.dataplane.sourceGuardMisses = [pod.hostIfName]
            follower.poll()
        }
        XCTAssertEqual(f.dataplane.sourceGuards[pod.hostIfName], guarded)
        XCTAssertEqual(follower.totals, .init(forged: 1))
        XCTAssertFalse(f.dataplane.calls.contains { $0.hasPrefix("setSourceGuard") })
    }

    /// A pod may not take another pod's MAC (nor a multicast one); CHECK's
    /// refresh says why, and the guard stays.
    func testAnotherAttachmentsMACIsRefused() throws {
        let f = try ControlFixture(self)
        _ = try f.networks.create(CreateNetworkRequest(name: "blue", subnet: "10.1.0.0/24"))
        let victim = try attach(f, "victim")
        let thief = try attach(f, "thief")
        let follower = f.attachments.sourceGuardFollower
        f.provisioner.changedMACs["/var/run/netns/thief|eth0"] = try XCTUnwrap(InterfaceIdentity.parse(mac: victim.mac))
        f.dataplane.sourceGuardMisses = [thief.hostIfName]
        follower.poll()
        XCTAssertEqual(f.dataplane.sourceGuards[thief.hostIfName]?.mac, InterfaceIdentity.parse(mac: thief.mac))
        XCTAssertEqual(try f.store.attachment(containerId: "thief", ifName: "eth0")?.mac, thief.mac)
        XCTAssertControlError(try f.attachments.refresh(containerId: "thief", ifName: "eth0"), code: "mac_not_followed", status: 409)

        f.provisioner.changedMACs["/var/run/netns/thief|eth0"] = [0x03, 0, 0, 0, 0, 1]
        XCTAssertControlError(try f.attachments.refresh(containerId: "thief", ifName: "eth0"), code: "mac_not_followed", status: 409)
        // The fake dataplane gives every port (the victim's host end too) 02:00:00:00:00:01.
        f.provisioner.changedMACs["/var/run/netns/thief|eth0"] = [0x02, 0, 0, 0, 0, 1]
        XCTAssertControlError(try f.attachments.refresh(containerId: "thief", ifName: "eth0"), code: "mac_not_followed", status: 409)
        XCTAssertEqual(follower.totals.refused, 4)
    }

    /// CHECK's refresh follows at once, without waiting for a frame; an
    /// unknown attachment is a 404.
    func testRefreshFollowsWithoutAFrame() throws {
        let f = try ControlFixture(self)
        _ = try f.networks.create(CreateNetworkRequest(name: "blue", subnet: "10.1.0.0/24"))
        let pod = try attach(f, "pod")
        XCTAssertEqual(try f.attachments.refresh(containerId: "pod", ifName: "eth0").mac, pod.mac)
        f.provisioner.changedMACs["/var/run/netns/pod|eth0"] = [0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0x02]
        XCTAssertEqual(try f.attachments.refresh(containerId: "pod", ifName: "eth0").mac, "02:aa:bb:cc:dd:02")
        XCTAssertEqual(f.dataplane.sourceGuards[pod.hostIfName]?.mac, [0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0x02])
        XCTAssertControlError(try f.attachments.refresh(containerId: "nobody", ifName: "eth0"), code: "attachment_not_found", status: 404)
    }
}
