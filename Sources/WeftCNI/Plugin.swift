// weft-cni: a CNI 1.1.0 plugin that attaches pods through weftd. One
// process per command: environment + configuration in, result or error out.
// See README.md ("Pods through CNI") for the configuration and a walk-through.
import WeftClient

public struct PluginOutput: Equatable {
    public var stdout: [UInt8]
    public var exitCode: Int32
    public var error: CNIError?
}

public enum Plugin {
    /// Runs one command. Never throws: every failure is an error result.
    public static func run(environment: [String: String], stdin: [UInt8]) -> PluginOutput {
        var version = CNIVersion.latest
        do {
            let invocation = try Invocation(environment: environment)
            if invocation.command == .version {
                return success(try versionInfo(stdin))
            }
            let conf = try NetConf(stdin)
            version = conf.cniVersion
            let result: JSON? = try Commands(invocation: invocation, conf: conf).run()
            return success(result)
        } catch let error as CNIError {
            return PluginOutput(stdout: error.json(cniVersion: version).bytes + [0x0a], exitCode: 1, error: error)
        } catch {
            let wrapped = CNIError(CNIError.weftdFailed, "unexpected failure: \(error)")
            return PluginOutput(stdout: wrapped.json(cniVersion: version).bytes + [0x0a], exitCode: 1, error: wrapped)
        }
    }

    private static func success(_ result: JSON?) -> PluginOutput {
        PluginOutput(stdout: result.map { $0.bytes + [0x0a] } ?? [], exitCode: 0, error: nil)
    }

    /// VERSION: answers in the version asked for ({"cniVersion": "..."} on
    /// stdin) when weft speaks it, else in the latest.
    static func versionInfo(_ stdin: [UInt8]) throws -> JSON {
        var answer = CNIVersion.latest
        if stdin.contains(where: { $0 != 0x20 && $0 != 0x0a && $0 != 0x0d && $0 != 0x09 }) {
            guard let query = try? JSON.parse(stdin), case .object = query else {
                throw CNIError(CNIError.decodeFailure, "VERSION: stdin must be a JSON object such as {\"cniVersion\": \"1.1.0\"}")
            }
            if let asked = query["cniVersion"]?.string, CNIVersion.supported.contains(asked) { answer = asked }
        }
        return ["cniVersion": .string(answer), "supportedVersions": .array(CNIVersion.supported.map { .string($0) })]
    }
}

struct Commands {
    let invocation: Invocation
    let conf: NetConf

    func run() throws -> JSON? {
        switch invocation.command {
        case .add: return try add()
        case .del: try del(); return nil
        case .check: try check(); return nil
        case .status: try status(); return nil
        case .gc: try gc(); return nil
        case .version: return try Plugin.versionInfo(conf.raw)
        }
    }

    private var attachmentPath: String {
        "/v1/attachments/\(invocation.containerId.pathSegment)/\(invocation.ifName.pathSegment)"
    }

    private func ipamDelegate() throws -> Delegate? {
        guard case .delegated(let type) = conf.ipam else { return nil }
        return try Delegate(type: type, searchPath: invocation.path, environment: invocation.environment)
    }

    // MARK: ADD

    func add() throws -> JSON {
        if let error = conf.bandwidthError { throw error }
        let weftd = Weftd(socket: conf.socket, unreachableCode: CNIError.notAvailable)
        let network = try ensureNetwork(weftd)
        var request = CreateAttachmentRequest(containerId: invocation.containerId, netns: invocation.netns,
                                              ifName: invocation.ifName, network: conf.network, mtu: conf.mtu,
                                              attach: conf.attach, driver: conf.driver, queues: conf.queues,
                                              bandwidth: conf.bandwidth)
        var builder = ResultBuilder(previous: conf.prevResult)
        var ipGateway: String?
        var ipamRoutes: [JSON]?
        var dns = conf.dns

        let delegate = try ipamDelegate()
        if let delegate {
            // Delegated IPAM: the plugin picks the address, weftd plugs it in.
            let output = try delegate.run(command: "ADD", stdin: conf.raw)
            do {
                let parsed: JSON
                do { parsed = try JSON.parse(output) } catch {
                    throw CNIError(CNIError.delegateFailed, "IPAM plugin \(delegate.type) printed no JSON result",
                                   details: String(decoding: output.prefix(300), as: UTF8.self))
                }
                let outcome = try IPAMOutcome(parsed, plugin: delegate.type)
                request.address = outcome.address
                request.gateway = outcome.defaultRouteVia
                ipGateway = outcome.gateway
                ipamRoutes = outcome.routes
                if let ipamDNS = outcome.dns { dns = ipamDNS }
            } catch {
                releaseDelegated(delegate)
                throw error
            }
        } else {
            // weftd's IPAM: the network's first host is its gateway.
            let gateway = try Self.firstHost(of: network.subnet)
            request.gateway = gateway
            ipGateway = gateway
            if let ip = invocation.args.ip {
                guard Self.isIPv4(ip) else {
                    throw CNIError(CNIError.invalidEnvironment, "CNI_ARGS IP=\(ip) is not one IPv4 address; write it like IP=10.1.0.7")
                }
                request.address = ip
            }
        }

        // A pod on several networks has one default route: the first
        // network's. Later ones skip theirs, as the specification asks.
        let hadDefaultRoute = request.gateway != nil && (try? NetnsProbe.hasDefaultRoute(netns: invocation.netns)) == true
        if hadDefaultRoute { request.gateway = nil }

        let attachment: AttachmentInfo
        do {
            let reply = try weftd.post("/v1/attachments", request)
            guard reply.status == 201 else {
                throw Weftd.error(reply, doing: "attaching \(invocation.containerId)/\(invocation.ifName) to network \(conf.network)")
            }
            attachment = try reply.decode(AttachmentInfo.self)
        } catch {
            if let delegate { releaseDelegated(delegate) }
            throw error
        }

        if !conf.portMappings.isEmpty {
            do {
                try publish(conf.portMappings, to: attachment, weftd)
            } catch {
                // All or nothing: detaching removes the mappings already made with it.
                _ = try? weftd.send("DELETE", attachmentPath)
                if let delegate { releaseDelegated(delegate) }
                throw error
            }
        }

        // A tap attachment has no host-side link: only the pod's interface is listed.
        if attachment.attach != "tap" {
            builder.addInterface(name: attachment.hostIfName, mac: attachment.hostMac, mtu: attachment.mtu, sandbox: nil)
        }
        let index = builder.addInterface(name: attachment.ifName, mac: attachment.mac, mtu: attachment.mtu,
                                         sandbox: invocation.netns)
        builder.addIP(address: attachment.address, gateway: ipGateway, interface: index)
        if let ipamRoutes {
            builder.routes += hadDefaultRoute ? ipamRoutes.filter { $0["dst"]?.string != "0.0.0.0/0" } : ipamRoutes
        } else if let gateway = attachment.gateway {
            builder.addRoute(dst: "0.0.0.0/0", gw: gateway)
        }
        if builder.dns == nil { builder.dns = dns }
        return builder.result(version: conf.cniVersion)
    }

    /// The `portMappings` capability: each host port of the uplink's address
    /// forwarded to the pod (weftd's NAT44), owned by the container so that
    /// detaching it (DEL) removes them.
    private func publish(_ mappings: [NetConf.PortMapping], to attachment: AttachmentInfo, _ weftd: Weftd) throws {
        let address = String(attachment.address.split(separator: "/")[0])
        for m in mappings {
            let reply = try weftd.post("/v1/nat/mappings", NATMapping(protocol: m.protocol, externalPort: m.hostPort,
                                                                      internalAddress: address, internalPort: m.containerPort,
                                                                      containerId: invocation.containerId))
            guard reply.status == 201 else {
                throw Weftd.error(reply, doing: "publishing \(m.protocol) port \(m.hostPort) -> \(address):\(m.containerPort)")
            }
            let made = try reply.decode(NATMapping.self)
            if let hostIP = m.hostIP, hostIP != made.externalAddress {
                throw CNIError(CNIError.invalidConfig,
                               "portMappings hostIP \(hostIP): weftd publishes ports on its uplink address (\(made.externalAddress ?? "none configured")) only")
            }
        }
    }

    /// Undoes a delegated IPAM ADD after a later failure (the specification's
    /// rule: DEL the delegate before returning the error). Best effort.
    private func releaseDelegated(_ delegate: Delegate) {
        _ = try? delegate.run(command: "DEL", stdin: conf.raw)
    }

    /// The network, created first if it does not exist and "subnet" says how.
    private func ensureNetwork(_ weftd: Weftd) throws -> NetworkInfo {
        let path = "/v1/networks/\(conf.network.pathSegment)"
        for _ in 0..<3 {
            let reply = try weftd.send("GET", path)
            if reply.ok {
                let network = try reply.decode(NetworkInfo.self)
                if let subnet = conf.subnet, subnet != network.subnet {
                    throw NetConf.invalid("subnet",
                        "Weft network \"\(conf.network)\" exists with subnet \(network.subnet), but the configuration says \(subnet); make them agree (or use another \"network\")")
                }
                return network
            }
            guard reply.status == 404 else { throw Weftd.error(reply, doing: "looking up network \(conf.network)") }
            guard let subnet = conf.subnet else {
                throw NetConf.invalid("network",
                    "Weft network \"\(conf.network)\" does not exist in weftd; create it (weftctl network create \(conf.network) --subnet CIDR) or set \"subnet\" in the configuration so weft-cni creates it")
            }
            let created = try weftd.post("/v1/networks", CreateNetworkRequest(name: conf.network, subnet: subnet, mtu: conf.mtu,
                                                                                         masquerade: conf.ipMasq ? true : nil))
            if created.status == 201 { return try created.decode(NetworkInfo.self) }
            // Another ADD created it first: read it back.
            guard created.status == 409, created.error?.code == "network_exists" else {
                let failure = Weftd.error(created, doing: "creating network \(conf.network)")
                if created.error?.field == "subnet" || created.error?.field == "mtu" {
                    throw NetConf.invalid(created.error!.field!, "\(failure.msg)")
                }
                throw failure
            }
        }
        throw CNIError(CNIError.tryAgainLater, "network \(conf.network) keeps appearing and disappearing in weftd; try again")
    }

    // MARK: DEL

    /// Idempotent and best effort: no attachment, no namespace, no
    /// prevResult are all fine. weftd must answer, though: an unreachable
    /// weftd is code 11, so the runtime retries instead of leaking the
    /// attachment and its lease.
    func del() throws {
        let weftd = Weftd(socket: conf.socket, unreachableCode: CNIError.tryAgainLater)
        let reply = try weftd.send("DELETE", attachmentPath)
        if !reply.ok && reply.status != 404 {
            var failure = Weftd.error(reply, doing: "detaching \(invocation.containerId)/\(invocation.ifName)")
            if reply.status >= 500 { failure.code = CNIError.tryAgainLater }
            throw failure
        }
        if let delegate = try ipamDelegate() {
            _ = try delegate.run(command: "DEL", stdin: conf.raw)
        }
    }

    // MARK: CHECK

    func check() throws {
        if let error = conf.bandwidthError { throw error }
        guard CNIVersion.atLeast(conf.cniVersion, "0.4.0") else {
            throw CNIError(CNIError.incompatibleVersion,
                           "CHECK needs cniVersion 0.4.0 or later; the configuration says \(conf.cniVersion)")
        }
        guard let previous = conf.prevResult else {
            throw NetConf.invalid("prevResult", "CHECK needs \"prevResult\": the result of the ADD being checked")
        }
        let interfaces = previous["interfaces"]?.array ?? []
        guard let index = interfaces.firstIndex(where: {
            $0["name"]?.string == invocation.ifName && $0["sandbox"]?.string == invocation.netns
        }) else {
            throw CNIError(CNIError.checkFailed,
                           "prevResult lists no interface \(invocation.ifName) in sandbox \(invocation.netns); was it added by another plugin?")
        }
        let expected = interfaces[index]
        guard let ip = (previous["ips"]?.array ?? []).first(where: { $0["interface"]?.int == index }),
              let expectedAddress = ip["address"]?.string else {
            throw CNIError(CNIError.checkFailed, "prevResult has no address for interface \(invocation.ifName)")
        }

        let weftd = Weftd(socket: conf.socket, unreachableCode: CNIError.notAvailable)
        // POST .../refresh, not GET: weftd first re-reads the interface's MAC,
        // so a MAC a later plugin set (tuning's "mac") is followed before we
        // compare, even if the pod has not sent a frame since.
        let reply = try weftd.send("POST", attachmentPath + "/refresh")
        if reply.status == 404 {
            throw CNIError(CNIError.checkFailed,
                           "weftd has no attachment \(invocation.containerId)/\(invocation.ifName); the pod is not on network \(conf.network) (DEL and ADD it again)")
        }
        if reply.status == 409, let detail = reply.error, detail.code == "mac_not_followed" {
            throw CNIError(CNIError.checkFailed, "weftd: \(detail.message)")
        }
        guard reply.ok else { throw Weftd.error(reply, doing: "reading attachment \(invocation.containerId)/\(invocation.ifName)") }
        let attachment = try reply.decode(AttachmentInfo.self)
        func mismatch(_ what: String, _ have: String, _ want: String) -> CNIError {
            CNIError(CNIError.checkFailed, "\(invocation.containerId)/\(invocation.ifName): \(what) is \(have), expected \(want)")
        }
        if attachment.network != conf.network { throw mismatch("weftd's network", attachment.network, conf.network) }
        if attachment.netns != invocation.netns { throw mismatch("weftd's netns", attachment.netns, invocation.netns) }
        if attachment.address != expectedAddress { throw mismatch("weftd's address", attachment.address, expectedAddress) }
        // The MAC weftd's source guard lets the pod send from.
        if let mac = expected["mac"]?.string, mac.lowercased() != attachment.mac.lowercased() {
            throw mismatch("the MAC weftd lets the pod send from", attachment.mac, mac.lowercased())
        }
        // The bandwidth capability, when the runtime passes it: weftd must enforce exactly that.
        if conf.hasBandwidth, attachment.bandwidth != conf.bandwidth {
            throw mismatch("weftd's bandwidth limit", attachment.bandwidth?.summary ?? "none", conf.bandwidth?.summary ?? "none")
        }
        if attachment.swIfIndex == nil {
            throw CNIError(CNIError.checkFailed,
                           "host interface \(attachment.hostIfName) of \(invocation.containerId)/\(invocation.ifName) is not open in weftd's dataplane; see weftd's log")
        }

        if let delegate = try ipamDelegate() {
            _ = try delegate.run(command: "CHECK", stdin: conf.raw)
        }

        guard let link = try NetnsProbe.inspect(netns: invocation.netns, ifName: invocation.ifName) else {
            throw CNIError(CNIError.checkFailed, "interface \(invocation.ifName) is missing from \(invocation.netns)")
        }
        if !link.up { throw mismatch("interface state", "down", "up") }
        if let mac = expected["mac"]?.string, mac.lowercased() != link.mac { throw mismatch("MAC", link.mac, mac.lowercased()) }
        if let mtu = expected["mtu"]?.int, mtu != link.mtu { throw mismatch("MTU", String(link.mtu), String(mtu)) }
        if link.address != expectedAddress { throw mismatch("address", link.address ?? "none", expectedAddress) }
        // The default route weft installed, unless a later plugin changed
        // it (the result it passed on would then say so).
        for route in previous["routes"]?.array ?? [] where route["dst"]?.string == "0.0.0.0/0" {
            guard let via = route["gw"]?.string ?? ip["gateway"]?.string, via == attachment.gateway else { continue }
            if !link.defaultGateways.contains(via) {
                throw mismatch("default route", link.defaultGateways.isEmpty ? "missing" : "via \(link.defaultGateways.joined(separator: ", "))",
                               "via \(via)")
            }
        }
    }

    // MARK: STATUS

    func status() throws {
        try requireVersion("1.1.0", for: "STATUS")
        let weftd = Weftd(socket: conf.socket, unreachableCode: CNIError.notAvailable)
        do {
            let health = try weftd.send("GET", "/v1/health")
            guard health.ok else { throw Weftd.error(health, doing: "asking weftd for its health") }
            let network = try weftd.send("GET", "/v1/networks/\(conf.network.pathSegment)")
            if network.status == 404 && conf.subnet == nil {
                throw CNIError(CNIError.notAvailable,
                               "Weft network \"\(conf.network)\" does not exist in weftd and no \"subnet\" is configured to create it; create it with weftctl network create")
            }
            if !network.ok && network.status != 404 { throw Weftd.error(network, doing: "looking up network \(conf.network)") }
        } catch var error as CNIError where error.code == CNIError.tryAgainLater || error.code >= 100 {
            // STATUS speaks 50 for "cannot serve ADD now".
            error.code = CNIError.notAvailable
            throw error
        }
        if let delegate = try ipamDelegate(), delegate.supportedVersions(cniVersion: conf.cniVersion).contains("1.1.0") {
            _ = try delegate.run(command: "STATUS", stdin: conf.raw)
        }
    }

    // MARK: GC

    /// Removes every attachment of this network that is not in
    /// cni.dev/valid-attachments: weftd detaches it (veth, dataplane, lease)
    /// and a delegated IPAM plugin releases its address (DEL, then GC when
    /// the plugin speaks 1.1.0). Goes on past failures and reports them.
    func gc() throws {
        try requireVersion("1.1.0", for: "GC")
        let valid = try conf.validAttachments()
        let delegate = try ipamDelegate()
        let weftd = Weftd(socket: conf.socket, unreachableCode: CNIError.tryAgainLater)
        let listing = try weftd.send("GET", "/v1/attachments")
        guard listing.ok else { throw Weftd.error(listing, doing: "listing attachments") }
        let attachments = try listing.decode([AttachmentInfo].self)

        // GC is 1.1.0, but the delegate may speak only older versions: its
        // per-attachment DEL (what libcni itself synthesizes for plugins
        // without GC) then goes in the newest version it does speak.
        let delegateVersions = delegate?.supportedVersions(cniVersion: conf.cniVersion) ?? []
        var delStdin = conf.raw
        if delegate != nil, !delegateVersions.contains(conf.cniVersion),
           let common = delegateVersions.filter({ CNIVersion.supported.contains($0) })
               .max(by: { CNIVersion.atLeast($1, $0) && $0 != $1 }) {
            var downgraded = conf.json
            downgraded["cniVersion"] = .string(common)
            delStdin = downgraded.bytes
        }

        var failures: [CNIError] = []
        for attachment in attachments where attachment.network == conf.network
            && !valid.contains(AttachmentKey(containerId: attachment.containerId, ifName: attachment.ifName)) {
            do {
                let reply = try weftd.send("DELETE", "/v1/attachments/\(attachment.containerId.pathSegment)/\(attachment.ifName.pathSegment)")
                if !reply.ok && reply.status != 404 {
                    throw Weftd.error(reply, doing: "detaching stale \(attachment.containerId)/\(attachment.ifName)")
                }
                if let delegate, attachment.ipam == .external {
                    // The delegate's DEL for that attachment; its namespace may be gone.
                    let overrides: [String: String?] = [
                        "CNI_CONTAINERID": attachment.containerId, "CNI_IFNAME": attachment.ifName,
                        "CNI_NETNS": nil, "CNI_ARGS": nil]
                    _ = try delegate.run(command: "DEL", stdin: delStdin, overrides: overrides)
                }
            } catch let error as CNIError {
                failures.append(error)
            }
        }
        if let delegate, delegateVersions.contains("1.1.0") {
            do { _ = try delegate.run(command: "GC", stdin: conf.raw) } catch let error as CNIError { failures.append(error) }
        }
        if let first = failures.first {
            throw CNIError(first.code, "GC: \(failures.count) stale attachment(s) could not be removed: "
                           + failures.map(\.msg).joined(separator: "; "))
        }
    }

    private func requireVersion(_ minimum: String, for command: String) throws {
        guard CNIVersion.atLeast(conf.cniVersion, minimum) else {
            throw CNIError(CNIError.incompatibleVersion,
                           "\(command) needs cniVersion \(minimum) or later; the configuration says \(conf.cniVersion)")
        }
    }

    // MARK: addresses

    /// Strict dotted quad, the same rule as weftd's IPv4Address: decimal
    /// digits only (no "+1" or "-0"), no leading zeros, octets up to 255.
    static func isIPv4(_ text: String) -> Bool {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts.allSatisfy { part in
            !part.isEmpty && part.count <= 3 && part.allSatisfy({ $0.isASCII && $0.isNumber })
                && !(part.count > 1 && part.first == "0") && (Int(part).map { $0 <= 255 } ?? false)
        }
    }

    /// "10.1.0.0/24" -> "10.1.0.1": the address weftd reserves for the gateway.
    static func firstHost(of subnet: String) throws -> String {
        let parts = subnet.split(separator: "/")
        guard parts.count == 2, isIPv4(String(parts[0])) else {
            throw CNIError(CNIError.weftdFailed, "weftd reported an invalid subnet \"\(subnet)\"")
        }
        let octets = parts[0].split(separator: ".").compactMap { UInt32($0) }
        let value = octets.reduce(0) { $0 << 8 | $1 } &+ 1
        return [value >> 24, value >> 16 & 255, value >> 8 & 255, value & 255].map(String.init).joined(separator: ".")
    }
}
