import XCTest
@testable import WeftControl

final class ReconcilerTests: XCTestCase {
    /// Attaches three containers, then "restarts" weftd: a new store on the
    /// same file and a new, empty dataplane.
    func testRestartRestoresReopensRecreatesAndCleansUp() throws {
        let before = try ControlFixture(self)
        _ = try before.networks.create(CreateNetworkRequest(name: "blue", subnet: "10.1.0.0/24"))
        _ = try before.networks.create(CreateNetworkRequest(name: "red", subnet: "10.2.0.0/24", bridgeDomain: 9,
                                                            macAgeSeconds: 60, learnLimit: 100))
        var hostNames: [String: String] = [:]
        for (port, (container, network)) in [("alive", "blue"), ("lostveth", "blue"), ("gone", "red")].enumerated() {
            let netns = before.addNamespace(container)
            let attachment = try before.attachments.attach(
                CreateAttachmentRequest(containerId: container, netns: netns, network: network))
            hostNames[container] = attachment.hostIfName
            // A published port each (CNI portMappings): the gone container's must not outlive it.
            _ = try NATService(store: before.store, dataplane: before.dataplane, log: ControlFixture.quietLog)
                .addMapping(NATMapping(protocol: "tcp", externalPort: 8080 + port, internalAddress: String(attachment.address.split(separator: "/")[0]),
                                       internalPort: 80, containerId: container))
        }
        let specsBefore = before.provisioner.links

        // Restart: the kernel kept "alive"'s veth, lost "lostveth"'s, and the
        // "gone" container's namespace disappeared with its veth.
        let store = try StateStore(path: before.store.path)
        let dataplane = FakeDataplane()
        let kernel = FakeVethProvisioner()
        kernel.namespaces = ["/var/run/netns/alive", "/var/run/netns/lostveth"]
        kernel.links = specsBefore.filter { $0.key == hostNames["alive"] }

        let report = try Reconciler(store: store, dataplane: dataplane, provisioner: kernel,
                                    log: ControlFixture.quietLog).run()

        XCTAssertEqual(Set(report.bridgeDomainsCreated), ["blue", "red"])
        XCTAssertEqual(dataplane.bridgeDomainsByID[1], .init(learnLimit: 4096, macAgeSeconds: 300))
        XCTAssertEqual(dataplane.bridgeDomainsByID[9], .init(learnLimit: 100, macAgeSeconds: 60))
        XCTAssertEqual(dataplane.gateways[1]?.address, 0x0A01_0001)
        XCTAssertEqual(dataplane.gateways[9]?.address, 0x0A02_0001)
        XCTAssertEqual(dataplane.gateways[9]?.prefixLength, 24)
        XCTAssertEqual(report.interfacesReopened, ["alive/eth0"])
        XCTAssertEqual(report.vethsRecreated, ["lostveth/eth0"])
        XCTAssertEqual(report.attachmentsRemoved, ["gone/eth0"])
        XCTAssertEqual(report.natMappingsRestored.sorted(), ["tcp/8080", "tcp/8081"], "the gone container's mapping is not reported restored")
        XCTAssertEqual(report.failures, [])

        // The surviving veth was reused, not recreated; the lost one was
        // rebuilt identically (same name, MAC, address, namespace).
        XCTAssertEqual(kernel.created.map(\.hostIfName), [hostNames["lostveth"]])
        let rebuilt = try XCTUnwrap(kernel.links[hostNames["lostveth"]!])
        let original = try XCTUnwrap(specsBefore[hostNames["lostveth"]!])
        XCTAssertEqual(rebuilt.mac, original.mac)
        XCTAssertEqual(rebuilt.address, original.address)
        XCTAssertEqual(rebuilt.netnsPath, original.netnsPath)
        XCTAssertEqual(rebuilt.containerIfName, original.containerIfName)

        XCTAssertEqual(Set(dataplane.interfacesByName.keys), [hostNames["alive"]!, hostNames["lostveth"]!])
        XCTAssertEqual(dataplane.interfacesByName[hostNames["alive"]!]?.bridgeDomain, 1)

        // The departed container's attachment and lease are gone; the others kept theirs.
        XCTAssertEqual(try store.attachments().map(\.containerId).sorted(), ["alive", "lostveth"])
        XCTAssertEqual(try store.leases(network: "red"), [])
        XCTAssertEqual(try store.natMappings().map(\.externalPort).sorted(), [8080, 8081])
        XCTAssertEqual(Set(dataplane.natMappings.keys), ["6/8080", "6/8081"])
        XCTAssertEqual(try store.leases(network: "blue").map(\.address).sorted(), ["10.1.0.2", "10.1.0.3"])
    }

    func testAFailingAttachmentIsKeptAndTheRestStillRestored() throws {
        let before = try ControlFixture(self)
        _ = try before.networks.create(CreateNetworkRequest(name: "blue", subnet: "10.1.0.0/24"))
        for container in ["a", "b"] {
            let netns = before.addNamespace(container)
            _ = try before.attachments.attach(CreateAttachmentRequest(containerId: container, netns: netns, network: "blue"))
        }
        let kernel = FakeVethProvisioner()
        kernel.namespaces = before.provisioner.namespaces
        kernel.failCreate = NetnsError(errno: 16, message: "Device or resource busy")
        let dataplane = FakeDataplane()
        let hostA = InterfaceIdentity.hostIfName(containerId: "a", ifName: "eth0")
        kernel.links[hostA] = before.provisioner.links[hostA]

        let report = try Reconciler(store: before.store, dataplane: dataplane, provisioner: kernel,
                                    log: ControlFixture.quietLog).run()
        XCTAssertEqual(report.interfacesReopened, ["a/eth0"])
        XCTAssertEqual(report.failures.count, 1)
        XCTAssertEqual(try before.store.attachments().count, 2, "a failed restore must not lose the attachment")
    }
}
