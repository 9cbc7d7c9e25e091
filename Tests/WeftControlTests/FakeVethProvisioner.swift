@testable import WeftControl

/// In-memory stand-in for NetnsWorker: tracks which veths and namespaces
/// "exist" and can be told to fail.
final class FakeVethProvisioner: VethProvisioner {
    var namespaces: Set<String> = []
    var links: [String: VethSpec] = [:]        // host end name -> spec it was created with
    var hostLinks: Set<String> = []            // links weftd did not create (for `interface add`)
    var created: [VethSpec] = []
    var deleted: [String] = []

    var failCreate: NetnsError?
    var failDelete: NetnsError?

    func createVeth(_ spec: VethSpec) throws -> VethResult {
        if let failure = failCreate { throw failure }
        guard namespaces.contains(spec.netnsPath) else { throw NetnsError(errno: 2, message: "no netns \(spec.netnsPath)") }
        guard links[spec.hostIfName] == nil else { throw NetnsError(errno: 17, message: "\(spec.hostIfName) exists") }
        links[spec.hostIfName] = spec
        created.append(spec)
        return VethResult(hostIfIndex: Int32(links.count + 10), containerIfIndex: 2, hostMac: [2, 0, 0, 0, 0, 1])
    }

    func deleteVeth(hostIfName: String) throws -> Bool {
        if let failure = failDelete { throw failure }
        deleted.append(hostIfName)
        return links.removeValue(forKey: hostIfName) != nil
    }

    func linkExists(_ name: String) -> Bool { links[name] != nil || hostLinks.contains(name) }

    func netnsExists(_ path: String) -> Bool { namespaces.contains(path) }

    /// TAP devices by "netns|ifName".
    var taps: [String: VethSpec] = [:]
    var tapQueues: [String: Int] = [:]

    func createTap(_ spec: VethSpec, queues: Int) throws -> [Int32] {
        if let failure = failCreate { throw failure }
        guard namespaces.contains(spec.netnsPath) else { throw NetnsError(errno: 2, message: "no netns \(spec.netnsPath)") }
        let key = "\(spec.netnsPath)|\(spec.containerIfName)"
        guard taps[key] == nil else { throw NetnsError(errno: 17, message: "\(spec.containerIfName) exists in \(spec.netnsPath)") }
        taps[key] = spec
        tapQueues[key] = queues
        created.append(spec)
        return (0..<queues).map { Int32(1000 + $0) }     // never used as real fds: the fake dataplane ignores them
    }

    func openTap(netnsPath: String, ifName: String, queues: Int) throws -> [Int32] {
        guard taps["\(netnsPath)|\(ifName)"] != nil else { throw NetnsError(errno: 19, message: "no tap \(ifName) in \(netnsPath)") }
        return (0..<queues).map { Int32(1000 + $0) }
    }

    func deleteTap(netnsPath: String, ifName: String) throws -> Bool {
        if let failure = failDelete { throw failure }
        deleted.append("\(netnsPath)|\(ifName)")
        return taps.removeValue(forKey: "\(netnsPath)|\(ifName)") != nil
    }

    func containerLinkExists(netnsPath: String, ifName: String) -> Bool { taps["\(netnsPath)|\(ifName)"] != nil }

    /// MACs set inside containers after the attachment, by "netns|ifName"
    /// (what `tuning` or `ip link set address` would do).
    var changedMACs: [String: [UInt8]] = [:]

    func containerLinkMAC(netnsPath: String, ifName: String) throws -> [UInt8]? {
        if let mac = changedMACs["\(netnsPath)|\(ifName)"] { return mac }
        if let tap = taps["\(netnsPath)|\(ifName)"] { return tap.mac }
        return links.values.first { $0.netnsPath == netnsPath && $0.containerIfName == ifName }?.mac
    }
}
