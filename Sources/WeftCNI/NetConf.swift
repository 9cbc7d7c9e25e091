// The network configuration on stdin, as the runtime derives it from a
// conflist entry (name and cniVersion injected, prevResult when chained).
// weft's own keys:
//
//   "socket":  weftd's API socket (default /run/weft/weft.sock)
//   "network": the Weft network (default: "name"), created on first use
//              when "subnet" is given
//   "subnet":  IPv4 CIDR of that network
//   "mtu":     MTU of the pod interface (default: the network's)
//   "ipam":    omitted or {"type": "weft"}: weftd's IPAM (leases in its
//              store); any other type: that plugin, run from CNI_PATH
//   "dns":     {"nameservers", "domain", "search", "options"}, returned as is
//   "attach":  "veth" (default) or "tap": a TAP device weftd serves itself
//   "driver":  how weftd opens a veth's host end: "af-packet" (default) or "af-xdp"
//   "queues":  TAP queues, 1-8 (tap only)
//
// Capabilities (runtimeConfig): "portMappings" (published by weftd's NAT44)
// and "bandwidth" ({ingressRate, ingressBurst, egressRate, egressBurst},
// bits/s and bits, enforced by weftd's dataplane policers; the reference
// bandwidth plugin's qdiscs cannot work behind weftd, see docs/bandwidth.md).

import WeftClient

public struct NetConf: Sendable {
    public enum IPAM: Equatable, Sendable {
        case weft
        case delegated(type: String)
    }

    public static let defaultSocket = "/run/weft/weft.sock"

    /// Exactly what was read from stdin: delegated plugins get the same bytes.
    public var raw: [UInt8]
    public var json: JSON
    public var cniVersion: String
    public var name: String
    public var type: String
    public var socket: String
    public var network: String
    public var subnet: String?
    public var mtu: Int?
    public var ipam: IPAM
    public var dns: JSON?
    public var prevResult: JSON?
    /// "attach", "driver", "queues": passed to weftd, which judges them.
    public var attach: String?
    public var driver: String?
    public var queues: Int?
    /// "ipMasq": a network weft-cni creates masquerades behind the uplink (the bridge plugin's key).
    public var ipMasq: Bool = false
    /// runtimeConfig.portMappings (the `portMappings` capability, as the portmap plugin takes it).
    public var portMappings: [PortMapping] = []
    /// runtimeConfig.bandwidth (the `bandwidth` capability, as the bandwidth
    /// plugin takes it); nil when absent or all zero (0 means "not set").
    public var bandwidth: BandwidthLimits?
    /// Whether runtimeConfig.bandwidth was given at all (CHECK compares only then).
    public var hasBandwidth = false
    /// What is wrong with runtimeConfig.bandwidth, if anything: ADD and CHECK
    /// fail with it (code 7); DEL and GC do not need the limits and go on.
    public var bandwidthError: CNIError?

    public struct PortMapping: Equatable, Sendable {
        public var hostPort: Int
        public var containerPort: Int
        public var `protocol`: String
        public var hostIP: String?
    }

    /// Decodes and validates. Malformed JSON is code 6; a missing or wrong
    /// field is code 7 naming the field; an unsupported cniVersion is code 1.
    public init(_ raw: [UInt8]) throws {
        self.raw = raw
        let parsed: JSON
        do {
            parsed = try JSON.parse(raw)
        } catch {
            let what = raw.allSatisfy({ $0 == 0x20 || $0 == 0x0a || $0 == 0x0d || $0 == 0x09 })
                ? "stdin is empty" : "it is not valid JSON"
            throw CNIError(CNIError.decodeFailure,
                           "cannot decode the network configuration: \(what); the runtime must write the plugin's JSON configuration to stdin",
                           details: "\(error)")
        }
        guard case .object = parsed else {
            throw CNIError(CNIError.decodeFailure, "the network configuration must be a JSON object, got \(parsed.kind)")
        }
        json = parsed

        cniVersion = try Self.string(parsed, "cniVersion", required: true)!
        try CNIVersion.checkSupported(cniVersion)
        name = try Self.string(parsed, "name", required: true)!
        type = try Self.string(parsed, "type", required: true)!
        socket = try Self.string(parsed, "socket") ?? Self.defaultSocket
        if !socket.hasPrefix("/") {
            throw Self.invalid("socket", "\"socket\" must be the absolute path of weftd's API socket, e.g. \(Self.defaultSocket)")
        }
        network = try Self.string(parsed, "network") ?? name
        try Self.checkNetworkName(network, explicit: parsed["network"] != nil)
        subnet = try Self.string(parsed, "subnet")
        if let value = parsed["mtu"], !value.isNull {
            guard let mtu = value.int else { throw Self.invalid("mtu", "\"mtu\" must be an integer, got \(value.kind)") }
            self.mtu = mtu
        }
        switch parsed["ipam"] {
        case nil, .null?:
            ipam = .weft
        case .object(let fields)?:
            guard let type = fields["type"]?.string, !type.isEmpty else {
                throw Self.invalid("ipam.type", "\"ipam\" needs a \"type\": \"weft\" for weftd's IPAM, or the name of an IPAM plugin such as host-local")
            }
            if type == "weft" {
                ipam = .weft
            } else {
                guard !type.contains("/"), type != ".", type != ".." else {
                    throw Self.invalid("ipam.type", "\"ipam\".\"type\" \"\(type)\" must be a plugin name found in CNI_PATH, not a path")
                }
                ipam = .delegated(type: type)
            }
        case let other?:
            throw Self.invalid("ipam", "\"ipam\" must be an object, got \(other.kind)")
        }
        if let dns = parsed["dns"], !dns.isNull {
            try Self.checkDNS(dns)
            self.dns = dns
        }
        attach = try Self.string(parsed, "attach")
        if let attach, attach != "veth" && attach != "tap" {
            throw Self.invalid("attach", "\"attach\" must be \"veth\" or \"tap\", got \"\(attach)\"")
        }
        driver = try Self.string(parsed, "driver")
        if let driver, driver != "af-packet" && driver != "af-xdp" {
            throw Self.invalid("driver", "\"driver\" must be \"af-packet\" or \"af-xdp\", got \"\(driver)\"")
        }
        if let value = parsed["queues"], !value.isNull {
            guard let q = value.int, (1...8).contains(q) else { throw Self.invalid("queues", "\"queues\" must be an integer 1-8") }
            queues = q
        }
        if let value = parsed["ipMasq"], !value.isNull {
            guard case .bool(let b) = value else { throw Self.invalid("ipMasq", "\"ipMasq\" must be true or false, got \(value.kind)") }
            ipMasq = b
        }
        if let list = parsed["runtimeConfig"]?["portMappings"], !list.isNull {
            guard let items = list.array else {
                throw Self.invalid("runtimeConfig.portMappings", "\"portMappings\" must be an array of {hostPort, containerPort, protocol}")
            }
            portMappings = try items.enumerated().map { i, item in
                let field = "runtimeConfig.portMappings[\(i)]"
                guard let host = item["hostPort"]?.int, (1...65535).contains(host),
                      let container = item["containerPort"]?.int, (1...65535).contains(container) else {
                    throw Self.invalid(field, "\(field) needs \"hostPort\" and \"containerPort\" between 1 and 65535")
                }
                let proto = (item["protocol"]?.string ?? "tcp").lowercased()
                guard proto == "tcp" || proto == "udp" else {
                    throw Self.invalid(field, "\(field).protocol \"\(proto)\" is not supported; use tcp or udp")
                }
                let hostIP = item["hostIP"]?.string
                return PortMapping(hostPort: host, containerPort: container, protocol: proto,
                                   hostIP: hostIP == nil || hostIP == "" || hostIP == "0.0.0.0" ? nil : hostIP)
            }
        }
        if let value = parsed["runtimeConfig"]?["bandwidth"], !value.isNull {
            hasBandwidth = true
            do { bandwidth = try Self.bandwidth(value) } catch let error as CNIError { bandwidthError = error }
        }
        if let previous = parsed["prevResult"], !previous.isNull {
            guard case .object = previous else {
                throw Self.invalid("prevResult", "\"prevResult\" must be an object (the previous plugin's result), got \(previous.kind)")
            }
            prevResult = previous
        }
    }

    /// The attachments a GC keeps: "cni.dev/valid-attachments" (libcni also
    /// sends the earlier spelling "cni.dev/attachments").
    public func validAttachments() throws -> Set<AttachmentKey> {
        guard let list = json["cni.dev/valid-attachments"] ?? json["cni.dev/attachments"] else {
            throw Self.invalid("cni.dev/valid-attachments",
                               "GC needs \"cni.dev/valid-attachments\": the list of {\"containerID\", \"ifname\"} still in use")
        }
        guard let items = list.array else {
            throw Self.invalid("cni.dev/valid-attachments", "\"cni.dev/valid-attachments\" must be a list, got \(list.kind)")
        }
        var keys = Set<AttachmentKey>()
        for item in items {
            guard let containerId = item["containerID"]?.string, let ifName = item["ifname"]?.string else {
                throw Self.invalid("cni.dev/valid-attachments",
                                   "every entry of \"cni.dev/valid-attachments\" needs string fields \"containerID\" and \"ifname\", got \(item.text)")
            }
            keys.insert(AttachmentKey(containerId: containerId, ifName: ifName))
        }
        return keys
    }

    /// runtimeConfig.bandwidth: non-negative integers, 0 or absent = not
    /// set (the reference plugin's convention); per direction a rate needs
    /// a burst and a burst a rate.
    static func bandwidth(_ value: JSON) throws -> BandwidthLimits? {
        let field = "runtimeConfig.bandwidth"
        guard value.object != nil else {
            throw invalid(field, "\"bandwidth\" must be an object {ingressRate, ingressBurst, egressRate, egressBurst}, got \(value.kind)")
        }
        func number(_ key: String) throws -> Int64? {
            guard let v = value[key], !v.isNull else { return nil }
            let n: Int64
            switch v {
            case .int(let i): n = Int64(i)
            case .double(let d) where d.rounded() == d && d >= 0:  // beyond Int (a Go uint64): no limit in practice
                n = d >= 9.2e18 ? Int64.max : Int64(d)
            default:
                throw invalid("\(field).\(key)", "\(field).\(key) must be a non-negative integer (bits/s for rates, bits for bursts), got \(v.text)")
            }
            guard n >= 0 else {
                throw invalid("\(field).\(key)", "\(field).\(key) must be a non-negative integer (bits/s for rates, bits for bursts), got \(n)")
            }
            return n == 0 ? nil : n
        }
        let limits = BandwidthLimits(ingressRate: try number("ingressRate"), ingressBurst: try number("ingressBurst"),
                                     egressRate: try number("egressRate"), egressBurst: try number("egressBurst"))
        for (direction, rate, burst) in [("ingress", limits.ingressRate, limits.ingressBurst),
                                         ("egress", limits.egressRate, limits.egressBurst)] where (rate == nil) != (burst == nil) {
            let (have, need) = rate == nil ? ("Burst", "Rate") : ("Rate", "Burst")
            throw invalid("\(field).\(direction)\(need)", "\(field).\(direction)\(have) is set, so \(direction)\(need) must be set too")
        }
        return limits.isEmpty ? nil : limits
    }

    static func string(_ json: JSON, _ key: String, required: Bool = false) throws -> String? {
        guard let value = json[key], !value.isNull else {
            if required { throw invalid(key, "the network configuration has no \"\(key)\"") }
            return nil
        }
        guard let text = value.string else { throw invalid(key, "\"\(key)\" must be a string, got \(value.kind)") }
        if required && text.isEmpty { throw invalid(key, "\"\(key)\" must not be empty") }
        return text
    }

    static func invalid(_ field: String, _ message: String) -> CNIError {
        CNIError(CNIError.invalidConfig, message, details: "field: \(field)")
    }

    /// weftd's rule for network names, checked here so the message can say
    /// which configuration key to change.
    static func checkNetworkName(_ name: String, explicit: Bool) throws {
        let bytes = Array(name.utf8)
        let isLowerAlnum: (UInt8) -> Bool = {
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains($0) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0)
        }
        let valid = !bytes.isEmpty && bytes.count <= 32 && isLowerAlnum(bytes[0])
            && bytes.allSatisfy { isLowerAlnum($0) || $0 == UInt8(ascii: "-") }
        if !valid {
            let key = explicit ? "\"network\"" : "\"name\" (used as the Weft network; or set \"network\")"
            throw invalid("network",
                          "\(key) \"\(name)\" is not a valid Weft network name; use 1-32 characters of a-z, 0-9 and '-', starting with a letter or digit")
        }
    }

    static func checkDNS(_ dns: JSON) throws {
        guard let fields = dns.object else { throw invalid("dns", "\"dns\" must be an object, got \(dns.kind)") }
        for key in ["nameservers", "search", "options"] {
            if let value = fields[key], !(value.array?.allSatisfy({ $0.string != nil }) ?? false) {
                throw invalid("dns.\(key)", "\"dns\".\"\(key)\" must be a list of strings")
            }
        }
        if let domain = fields["domain"], domain.string == nil {
            throw invalid("dns.domain", "\"dns\".\"domain\" must be a string")
        }
    }
}

/// The key of an attachment: what GC's valid list names.
public struct AttachmentKey: Hashable, Sendable {
    public var containerId: String
    public var ifName: String
    public init(containerId: String, ifName: String) { self.containerId = containerId; self.ifName = ifName }
}
