import XCTest
@testable import WeftControl

final class IPAMTests: XCTestCase {
    private func networkStore(subnet: String) throws -> StateStore {
        let fixture = try ControlFixture(self)
        _ = try fixture.store.createNetwork(name: "net", subnet: subnet, mtu: 1500, bridgeDomain: nil,
                                            macAgeSeconds: 300, learnLimit: 4096)
        return fixture.store
    }

    private func lease(_ store: StateStore, _ container: String) throws -> String {
        try store.createAttachment(containerId: container, ifName: "eth0", network: "net", netns: "/n", mtu: nil).address
    }

    func testFirstLeaseIsDotTwo() throws {
        let store = try networkStore(subnet: "10.1.0.0/24")
        XCTAssertEqual(try lease(store, "a"), "10.1.0.2")
        XCTAssertEqual(try lease(store, "b"), "10.1.0.3")
    }

    func testSlash30HasExactlyOneAddressThenIsExhausted() throws {
        let store = try networkStore(subnet: "192.168.7.4/30")
        XCTAssertEqual(try lease(store, "a"), "192.168.7.6")   // .4 network, .5 gateway, .7 broadcast
        XCTAssertControlError(try lease(store, "b"), code: "subnet_exhausted", status: 409)
        // The failed attempt left no attachment behind.
        XCTAssertNil(try store.attachment(containerId: "b", ifName: "eth0"))
    }

    func testFreedAddressIsReusedLowestFirst() throws {
        let store = try networkStore(subnet: "10.2.0.0/29")
        XCTAssertEqual(try lease(store, "a"), "10.2.0.2")
        XCTAssertEqual(try lease(store, "b"), "10.2.0.3")
        XCTAssertEqual(try lease(store, "c"), "10.2.0.4")
        try store.deleteAttachment(containerId: "b", ifName: "eth0")
        XCTAssertEqual(try lease(store, "d"), "10.2.0.3")
        XCTAssertEqual(try lease(store, "e"), "10.2.0.5")
        XCTAssertEqual(try lease(store, "f"), "10.2.0.6")
        XCTAssertControlError(try lease(store, "g"), code: "subnet_exhausted")   // .7 is broadcast
    }

    func testAllocatorNeverReturnsReservedAddresses() throws {
        let subnet = try IPv4Subnet.parse("10.0.0.0/29")
        var leased: Set<IPv4Address> = []
        while let next = AddressAllocator.lowestFree(in: subnet, leased: leased) {
            leased.insert(next)
        }
        XCTAssertEqual(leased.map(\.description).sorted(),
                       ["10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5", "10.0.0.6"])
    }

    func testSubnetValidation() {
        XCTAssertEqual(try IPv4Subnet.parse("10.1.0.0/24").description, "10.1.0.0/24")
        XCTAssertEqual(try IPv4Subnet.parse("10.0.0.0/8").broadcast.description, "10.255.255.255")
        XCTAssertThrowsError(try IPv4Subnet.parse("10.1.0.1/24")) { error in
            XCTAssertEqual(error as? IPv4Subnet.ParseError, .hostBitsSet("10.1.0.1/24", suggestion: "10.1.0.0/24"))
        }
        XCTAssertThrowsError(try IPv4Subnet.parse("10.1.0.0/31"))
        XCTAssertThrowsError(try IPv4Subnet.parse("10.0.0.0/7"))
        XCTAssertThrowsError(try IPv4Subnet.parse("10.1.0.0"))
        XCTAssertThrowsError(try IPv4Subnet.parse("10.1.0/24"))
        XCTAssertThrowsError(try IPv4Subnet.parse("10.1.0.256/24"))
        XCTAssertThrowsError(try IPv4Subnet.parse("010.1.0.0/24"))
        XCTAssertThrowsError(try IPv4Subnet.parse("10.1.0.0/+4"))
    }

    /// Every "a.b.c.d/len" parser takes the length the same way: one or two digits.
    func testPrefixLengthIsParsedAlikeEverywhere() throws {
        XCTAssertEqual(try RouteService.parsePrefix("10.0.0.0/8").length, 8)
        XCTAssertEqual(try UplinkService.parse(address: "192.0.2.2/24", gateway: nil).prefixLength, 24)
        XCTAssertEqual(try AttachmentService.parseAddress("10.1.0.7/24").prefix, 24)
        for bad in ["+8", "024", " 8", ""] {
            XCTAssertControlError(try RouteService.parsePrefix("10.0.0.0/" + bad), code: "invalid_field", field: "prefix")
            XCTAssertControlError(try UplinkService.parse(address: "192.0.2.2/" + bad, gateway: nil),
                                  code: "invalid_field", field: "address")
            XCTAssertControlError(try AttachmentService.parseAddress("10.1.0.7/" + bad), code: "invalid_field", field: "address")
        }
        XCTAssertEqual(parseIPv4("10.1.0.2"), 0x0A01_0002)
        XCTAssertNil(parseIPv4("10.01.0.2"))
    }

    func testMacIsDerivedFromAddress() throws {
        let address = try XCTUnwrap(IPv4Address("10.1.0.2"))
        XCTAssertEqual(InterfaceIdentity.mac(for: address), [0x02, 0xfe, 10, 1, 0, 2])
        XCTAssertEqual(InterfaceIdentity.format(mac: InterfaceIdentity.mac(for: address)), "02:fe:0a:01:00:02")
        XCTAssertEqual(InterfaceIdentity.parse(mac: "02:fe:0a:01:00:02"), [0x02, 0xfe, 10, 1, 0, 2])
        XCTAssertNil(InterfaceIdentity.parse(mac: "02:fe:0a:01:00"))
    }

    func testHostInterfaceNameIsStableFNV1a() {
        // Reference values of 32-bit FNV-1a.
        XCTAssertEqual(InterfaceIdentity.fnv1a32([]), 0x811c_9dc5)
        XCTAssertEqual(InterfaceIdentity.fnv1a32(Array("a".utf8)), 0xe40c_292c)
        XCTAssertEqual(InterfaceIdentity.fnv1a32(Array("foobar".utf8)), 0xbf9c_f968)
        let name = InterfaceIdentity.hostIfName(containerId: "c1", ifName: "eth0")
        XCTAssertEqual(name, "wf" + String(format: "%08x", InterfaceIdentity.fnv1a32(Array("c1/eth0".utf8))))
        XCTAssertEqual(name.count, 10)
        XCTAssertEqual(name, InterfaceIdentity.hostIfName(containerId: "c1", ifName: "eth0"))
        XCTAssertNotEqual(name, InterfaceIdentity.hostIfName(containerId: "c1", ifName: "eth1"))
    }
}

import Foundation
