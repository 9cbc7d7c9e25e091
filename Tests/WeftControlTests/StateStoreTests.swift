import Foundation
import XCTest
@testable import WeftControl

final class StateStoreTests: XCTestCase {
    func testNetworksAttachmentsAndLeasesSurviveReopeningTheFile() throws {
        let directory = try makeTemporaryDirectory(self)
        let path = directory + "/nested/dir/state.db"
        let created = Date(timeIntervalSince1970: 1_700_000_000)
        do {
            let store = try StateStore(path: path)
            _ = try store.createNetwork(name: "blue", subnet: "10.1.0.0/24", mtu: 1500, bridgeDomain: nil,
                                        macAgeSeconds: 300, learnLimit: 4096, createdAt: created)
            _ = try store.createAttachment(containerId: "c1", ifName: "eth0", network: "blue",
                                           netns: "/var/run/netns/c1", mtu: nil, createdAt: created)
        }
        // A new instance reads only what was committed to the file.
        let reopened = try StateStore(path: path)
        let networks = try reopened.networks()
        XCTAssertEqual(networks, [NetworkRecord(name: "blue", bridgeDomain: 1, subnet: "10.1.0.0/24", mtu: 1500,
                                                macAgeSeconds: 300, learnLimit: 4096, createdAt: created)])
        let attachments = try reopened.attachments()
        XCTAssertEqual(attachments.count, 1)
        let attachment = try XCTUnwrap(attachments.first)
        XCTAssertEqual(attachment.containerId, "c1")
        XCTAssertEqual(attachment.address, "10.1.0.2")
        XCTAssertEqual(attachment.prefixLength, 24)
        XCTAssertEqual(attachment.mac, "02:fe:0a:01:00:02")
        XCTAssertEqual(attachment.mtu, 1500)
        XCTAssertEqual(attachment.hostIfName, InterfaceIdentity.hostIfName(containerId: "c1", ifName: "eth0"))
        XCTAssertEqual(attachment.createdAt, created)
        XCTAssertEqual(try reopened.leases(network: "blue"),
                       [LeaseRecord(network: "blue", address: "10.1.0.2", containerId: "c1", ifName: "eth0")])
    }

    func testDatabaseIsInWALMode() throws {
        let directory = try makeTemporaryDirectory(self)
        let store = try StateStore(path: directory + "/state.db")
        let mode = try store.database.read { db in try String.fetchOne(db, sql: "PRAGMA journal_mode") }
        XCTAssertEqual(mode, "wal")
    }

    func testDeletingAnAttachmentReleasesItsLease() throws {
        let fixture = try ControlFixture(self)
        _ = try fixture.store.createNetwork(name: "blue", subnet: "10.1.0.0/24", mtu: 1500, bridgeDomain: nil,
                                            macAgeSeconds: 300, learnLimit: 4096)
        _ = try fixture.store.createAttachment(containerId: "c1", ifName: "eth0", network: "blue", netns: "/n", mtu: 1400)
        XCTAssertEqual(try fixture.store.attachment(containerId: "c1", ifName: "eth0")?.mtu, 1400)
        XCTAssertTrue(try fixture.store.deleteAttachment(containerId: "c1", ifName: "eth0"))
        XCTAssertEqual(try fixture.store.allLeases(), [])
        XCTAssertFalse(try fixture.store.deleteAttachment(containerId: "c1", ifName: "eth0"))
    }

    func testNetworkWithAttachmentsCannotBeDeleted() throws {
        let fixture = try ControlFixture(self)
        _ = try fixture.store.createNetwork(name: "blue", subnet: "10.1.0.0/24", mtu: 1500, bridgeDomain: nil,
                                            macAgeSeconds: 300, learnLimit: 4096)
        _ = try fixture.store.createAttachment(containerId: "c1", ifName: "eth0", network: "blue", netns: "/n", mtu: nil)
        XCTAssertControlError(try fixture.store.deleteNetwork(named: "blue"), code: "network_in_use", status: 409)
        try fixture.store.deleteAttachment(containerId: "c1", ifName: "eth0")
        XCTAssertTrue(try fixture.store.deleteNetwork(named: "blue"))
        XCTAssertEqual(try fixture.store.networks(), [])
    }

    func testBridgeDomainsAreAllocatedLowestFreeFromOne() throws {
        let fixture = try ControlFixture(self)
        func create(_ name: String, _ domain: Int?) throws -> Int {
            // One subnet per name: subnets may not overlap within a VRF.
            try fixture.store.createNetwork(name: name, subnet: "10.9.\(name.unicodeScalars.first!.value).0/24", mtu: 1500, bridgeDomain: domain,
                                            macAgeSeconds: 300, learnLimit: 4096).bridgeDomain
        }
        XCTAssertEqual(try create("a", nil), 1)
        XCTAssertEqual(try create("b", 3), 3)
        XCTAssertEqual(try create("c", nil), 2)
        XCTAssertEqual(try create("d", nil), 4)
        try fixture.store.deleteNetwork(named: "a")
        XCTAssertEqual(try create("e", nil), 1)
        XCTAssertControlError(try create("f", 3), code: "bridge_domain_in_use", field: "bridgeDomain", status: 409)
        XCTAssertControlError(try create("b", nil), code: "network_exists", field: "name", status: 409)
    }

    func testDuplicateAttachmentIsAConflict() throws {
        let fixture = try ControlFixture(self)
        _ = try fixture.store.createNetwork(name: "blue", subnet: "10.1.0.0/24", mtu: 1500, bridgeDomain: nil,
                                            macAgeSeconds: 300, learnLimit: 4096)
        _ = try fixture.store.createAttachment(containerId: "c1", ifName: "eth0", network: "blue", netns: "/n", mtu: nil)
        XCTAssertControlError(
            try fixture.store.createAttachment(containerId: "c1", ifName: "eth0", network: "blue", netns: "/n", mtu: nil),
            code: "attachment_exists", status: 409)
        XCTAssertControlError(
            try fixture.store.createAttachment(containerId: "c2", ifName: "eth0", network: "red", netns: "/n", mtu: nil),
            code: "network_not_found", field: "network", status: 404)
    }
}

final class InstanceLockTests: XCTestCase {
    func testOnlyOneHolderAtATime() throws {
        let directory = try makeTemporaryDirectory(self)
        let statePath = directory + "/lib/state.db"
        let first = try InstanceLock(statePath: statePath)
        XCTAssertThrowsError(try InstanceLock(statePath: statePath)) { error in
            XCTAssertTrue("\(error)".contains("already running"), "\(error)")
        }
        first.release()
        XCTAssertNoThrow(try InstanceLock(statePath: statePath))
    }
}
