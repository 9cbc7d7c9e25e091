// The uplink: one interface of weftd's namespace (a NIC, or a veth to an
// upstream router) opened with AF_PACKET as a routed port, with an address
// and a default route via the upstream gateway. Control thread only.

import Foundation

public final class UplinkService {
    let store: StateStore
    let dataplane: Dataplane
    let provisioner: VethProvisioner
    let log: WeftLogger

    public init(store: StateStore, dataplane: Dataplane, provisioner: VethProvisioner, log: WeftLogger = .shared) {
        self.store = store; self.dataplane = dataplane; self.provisioner = provisioner; self.log = log
    }

    struct Parsed {
        var address: IPv4Address
        var prefixLength: Int
        var subnet: IPv4Subnet
        var gateway: IPv4Address?
    }

    /// The uplink's address, its subnet and gateway, checked.
    static func parse(address text: String, gateway: String?) throws -> Parsed {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let length = IPv4Subnet.prefixLength(parts[1]), (1...30).contains(length) else {
            throw ControlError.invalidField("address", "address \"\(text)\" must be a.b.c.d/len with len 1 to 30, e.g. 192.0.2.2/24")
        }
        guard let address = IPv4Address(String(parts[0])) else {
            throw ControlError.invalidField("address", "address \"\(text)\": \"\(parts[0])\" is not a valid IPv4 address")
        }
        let subnet = IPv4Subnet(network: IPv4Address(address.value & IPv4Subnet.mask(length)), prefixLength: length)
        guard address != subnet.network, address != subnet.broadcast else {
            throw ControlError.invalidField("address", "address \(text) is the network or broadcast address of \(subnet)")
        }
        var gw: IPv4Address?
        if let gateway {
            guard let g = IPv4Address(gateway) else {
                throw ControlError.invalidField("gateway", "gateway \"\(gateway)\" is not a valid IPv4 address")
            }
            guard subnet.contains(g), g != address, g != subnet.network, g != subnet.broadcast else {
                throw ControlError.invalidField("gateway", "gateway \(g) must be another host of the uplink's subnet \(subnet)")
            }
            gw = g
        }
        return Parsed(address: address, prefixLength: length, subnet: subnet, gateway: gw)
    }

    static func request(_ r: UplinkRecord) -> UplinkRequest {
        UplinkRequest(name: r.name, address: r.address, gateway: r.gateway)
    }

    public func get() throws -> UplinkRequest {
        guard let record = try store.uplink() else {
            throw ControlError(.notFound, code: "uplink_not_configured", message: "no uplink is configured; set one with POST /v1/uplink")
        }
        return Self.request(record)
    }

    public func set(_ request: UplinkRequest) throws -> UplinkRequest {
        guard !request.name.isEmpty, request.name.utf8.count <= 15, !request.name.contains("/") else {
            throw ControlError.invalidField("name", "name \"\(request.name)\" is not an interface name (1 to 15 characters)")
        }
        let parsed = try Self.parse(address: request.address, gateway: request.gateway)
        // The uplink is in vrf 0: networks of other VRFs may overlap its subnet.
        for network in try store.networks() where network.vrf == 0 {
            guard let s = try? IPv4Subnet.parse(network.subnet) else { continue }
            if s.contains(parsed.subnet.network) || parsed.subnet.contains(s.network) {
                throw ControlError(.conflict, code: "address_overlaps_network",
                                   message: "uplink subnet \(parsed.subnet) overlaps network \"\(network.name)\" (\(s))", field: "address")
            }
        }
        if let holder = try store.attachment(hostIfName: request.name) {
            throw StateStore.hostInterfaceIsAttachment(request.name, holder)
        }
        if let bridged = try store.hostInterface(named: request.name) {
            throw ControlError(.conflict, code: "interface_exists",
                               message: "interface \"\(request.name)\" is bridged into network \"\(bridged.network)\"; delete it there first",
                               field: "name")
        }
        if parsed.gateway != nil, try store.route(prefix: "0.0.0.0/0") != nil {
            throw ControlError(.conflict, code: "route_exists",
                               message: "a static route for 0.0.0.0/0 exists; delete it before giving the uplink a gateway", field: "gateway")
        }
        guard provisioner.linkExists(request.name) else {
            throw ControlError.invalidField("name", "there is no link named \"\(request.name)\" in weftd's network namespace")
        }
        let previous = try store.uplink()
        if let previous, previous.name != request.name || previous.address != "\(parsed.address)/\(parsed.prefixLength)" {
            try checkNoRoutes(via: previous)
            try checkNoTunnels()
        }
        let record = UplinkRecord(name: request.name, address: "\(parsed.address)/\(parsed.prefixLength)",
                                  gateway: parsed.gateway?.description, createdAt: Date())
        try store.setUplink(record)
        do {
            try Self.program(record, dataplane: dataplane)
        } catch {
            do {
                if let previous {
                    try store.setUplink(previous)
                    try? Self.program(previous, dataplane: dataplane)
                } else {
                    try store.deleteUplink()
                }
            } catch let cleanup {
                log.error("uplink: could not restore the record after a failed set: \(cleanup)")
            }
            throw ControlError.wrap(error, code: "dataplane_error", context: "setting uplink \(request.name)")
        }
        log.info("uplink \(record.name) \(record.address)" + (record.gateway.map { " default via \($0)" } ?? ""))
        return Self.request(record)
    }

    public func clear() throws {
        guard let record = try store.uplink() else {
            throw ControlError(.notFound, code: "uplink_not_configured", message: "no uplink is configured; there is nothing to delete")
        }
        try checkNoRoutes(via: record)
        try checkNoTunnels()
        do {
            try dataplane.removeUplink()
        } catch DataplaneError.notFound {
            // Not open (its link was missing at start): the record is all there is.
        } catch {
            throw ControlError.wrap(error, code: "dataplane_error", context: "removing uplink \(record.name)")
        }
        try store.deleteUplink()
        log.info("uplink \(record.name) removed")
    }

    /// Static routes through the uplink's subnet would be left without an interface.
    private func checkNoRoutes(via record: UplinkRecord) throws {
        guard let p = try? Self.parse(address: record.address, gateway: nil) else { return }
        let via = try store.routes(vrf: 0).filter { IPv4Address($0.nextHop).map(p.subnet.contains) ?? false }
        if !via.isEmpty {
            throw ControlError(.conflict, code: "uplink_has_routes",
                               message: "static route(s) \(via.map(\.prefix).joined(separator: ", ")) go through the uplink; delete them first")
        }
    }

    /// VXLAN tunnels start at the uplink's address: it may not change under them.
    private func checkNoTunnels() throws {
        let tunnels = try store.tunnels()
        if !tunnels.isEmpty {
            throw ControlError(.conflict, code: "uplink_has_tunnels",
                               message: "VXLAN tunnel(s) \(tunnels.map(\.interfaceName).joined(separator: ", ")) start at the uplink's address; delete them first")
        }
    }

    /// Programs the record into the dataplane (set and restore).
    static func program(_ record: UplinkRecord, dataplane: Dataplane) throws {
        let p = try parse(address: record.address, gateway: record.gateway)
        try dataplane.setUplink(hostIfName: record.name, address: p.address.value, prefixLength: p.prefixLength,
                                gateway: p.gateway?.value)
    }
}
