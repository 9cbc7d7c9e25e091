// The ADD result, and how its shape differs per specification version:
//
//   0.3.0, 0.3.1, 0.4.0  ips[].version ("4"/"6") is required
//   1.0.0                ips[].version is gone
//   1.1.0                interfaces[].mtu (and socketPath, pciID) and
//                        routes[].mtu/advmss/priority/table/scope exist
//
// Everything else (interfaces name/mac/sandbox, ips address/gateway/
// interface, routes dst/gw, dns) is the same in all of them.

public struct ResultBuilder {
    public var interfaces: [JSON] = []
    public var ips: [JSON] = []
    public var routes: [JSON] = []
    public var dns: JSON?

    public init() {}

    /// Starts from a previous plugin's result (weft later in a chain): its
    /// interfaces, ips, routes and dns are kept, ours are appended.
    public init(previous: JSON?) {
        guard let previous else { return }
        interfaces = previous["interfaces"]?.array ?? []
        ips = previous["ips"]?.array ?? []
        routes = previous["routes"]?.array ?? []
        if let dns = previous["dns"], !(dns.object?.isEmpty ?? true) { self.dns = dns }
    }

    /// Appends an interface; returns its index for ips[].interface.
    @discardableResult
    public mutating func addInterface(name: String, mac: String?, mtu: Int?, sandbox: String?) -> Int {
        var fields: [String: JSON] = ["name": .string(name)]
        if let mac { fields["mac"] = .string(mac) }
        if let mtu { fields["mtu"] = .int(mtu) }
        if let sandbox { fields["sandbox"] = .string(sandbox) }
        interfaces.append(.object(fields))
        return interfaces.count - 1
    }

    public mutating func addIP(address: String, gateway: String?, interface: Int) {
        var fields: [String: JSON] = ["address": .string(address), "interface": .int(interface)]
        if let gateway { fields["gateway"] = .string(gateway) }
        ips.append(.object(fields))
    }

    public mutating func addRoute(dst: String, gw: String?) {
        var fields: [String: JSON] = ["dst": .string(dst)]
        if let gw { fields["gw"] = .string(gw) }
        routes.append(.object(fields))
    }

    /// The result in the shape of `version`.
    public func result(version: String) -> JSON {
        var fields: [String: JSON] = ["cniVersion": .string(version)]
        let v1 = CNIVersion.atLeast(version, "1.0.0")
        let v11 = CNIVersion.atLeast(version, "1.1.0")
        fields["interfaces"] = .array(interfaces.map { interface in
            guard !v11, case .object(var item) = interface else { return interface }
            for key in ["mtu", "socketPath", "pciID"] { item[key] = nil }
            return .object(item)
        })
        fields["ips"] = .array(ips.map { ip in
            guard case .object(var item) = ip else { return ip }
            if v1 {
                item["version"] = nil
            } else if item["version"] == nil {
                item["version"] = .string((item["address"]?.string ?? "").contains(":") ? "6" : "4")
            }
            return .object(item)
        })
        if !routes.isEmpty {
            fields["routes"] = .array(routes.map { route in
                guard !v11, case .object(var item) = route else { return route }
                for key in ["mtu", "advmss", "priority", "table", "scope"] { item[key] = nil }
                return .object(item)
            })
        }
        if let dns { fields["dns"] = dns }
        return .object(fields)
    }
}

/// What weft-cni needs from an IPAM plugin's result: one IPv4 address, its
/// gateway, a default route, DNS.
struct IPAMOutcome {
    var address: String          // "10.1.0.7/24"
    var gateway: String?         // ips[].gateway, reported as is
    var defaultRouteVia: String? // gateway of the 0.0.0.0/0 route weftd installs
    var routes: [JSON]
    var dns: JSON?

    /// Accepts exactly one IPv4 address and at most a default route: weftd
    /// configures one address and one default route per interface. Anything
    /// else is refused with a message saying what to change in the IPAM
    /// configuration (code 7).
    init(_ result: JSON, plugin: String) throws {
        guard case .object = result else {
            throw CNIError(CNIError.delegateFailed, "IPAM plugin \(plugin) answered \(result.kind), not a result object")
        }
        let ips = result["ips"]?.array ?? []
        let v4 = ips.filter { ($0["address"]?.string).map { !$0.contains(":") } ?? false }
        guard ips.count == 1, let ip = v4.first, let address = ip["address"]?.string else {
            throw CNIError(CNIError.invalidConfig,
                           "IPAM plugin \(plugin) returned \(ips.count) addresses (\(ips.compactMap { $0["address"]?.string }.joined(separator: ", "))); weft needs exactly one IPv4 address per interface, so configure a single IPv4 range")
        }
        self.address = address
        gateway = ip["gateway"]?.string
        routes = result["routes"]?.array ?? []
        for route in routes {
            let dst = route["dst"]?.string ?? ""
            guard dst == "0.0.0.0/0" else {
                throw CNIError(CNIError.invalidConfig,
                               "IPAM plugin \(plugin) returned route \(route.text); weft installs only a default route (dst 0.0.0.0/0), so remove the others from the IPAM \"routes\"")
            }
            guard let via = route["gw"]?.string ?? gateway else {
                throw CNIError(CNIError.invalidConfig,
                               "IPAM plugin \(plugin) returned a default route without a gateway and no ips[].gateway; set \"gateway\" in the IPAM configuration")
            }
            defaultRouteVia = via
        }
        if let dns = result["dns"], !(dns.object?.isEmpty ?? true) { self.dns = dns }
    }
}
