// VXLAN tunnels: a network that spans nodes gets one tunnel per remote node
// (its VTEP address), from this node's uplink address. Records first, then
// the dataplane; a failure leaves neither. Control thread only.

import Foundation

public final class TunnelService {
    let store: StateStore
    let dataplane: Dataplane
    let log: WeftLogger

    public static let defaultPort = 4789

    public init(store: StateStore, dataplane: Dataplane, log: WeftLogger = .shared) {
        self.store = store; self.dataplane = dataplane; self.log = log
    }

    public func list() throws -> [TunnelInfo] {
        let local = try uplinkAddress()?.description ?? ""
        let byName = Dictionary(dataplane.interfaces().map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        let networks = Dictionary(try store.networks().map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        return try store.tunnels().map { Self.info($0, mtu: networks[$0.network]?.mtu ?? 0, local: local, interface: byName[$0.interfaceName]) }
    }

    public func create(_ request: CreateTunnelRequest) throws -> TunnelInfo {
        try FieldRules.networkName(request.network, field: "network")
        guard let network = try store.network(named: request.network) else {
            throw ControlError(.notFound, code: "network_not_found",
                               message: "network \"\(request.network)\" does not exist; create it first", field: "network")
        }
        guard let vni = request.vni ?? network.vni else {
            throw ControlError.invalidField("vni", "network \"\(network.name)\" has no VNI; give vni here or create the network with one")
        }
        try FieldRules.check(vni, in: FieldRules.vniRange, field: "vni")
        let port = request.port ?? Self.defaultPort
        try FieldRules.check(port, in: FieldRules.udpPortRange, field: "port")
        guard let remote = IPv4Address(request.remote) else {
            throw ControlError.invalidField("remote", "remote \"\(request.remote)\" is not an IPv4 address (the other node's VTEP, its uplink address)")
        }
        let first = remote.value >> 24
        guard remote.value != 0, remote.value != 0xFFFF_FFFF, first != 127, first < 224 else {
            throw ControlError.invalidField("remote", "remote \(remote) is not a unicast address")
        }
        guard let local = try uplinkAddress() else {
            throw ControlError(.conflict, code: "uplink_not_configured",
                               message: "a tunnel starts at the uplink's address; configure the uplink first (POST /v1/uplink)")
        }
        guard local != remote else {
            throw ControlError.invalidField("remote", "remote \(remote) is this node's own uplink address")
        }
        let record = try store.createTunnel(network: network.name, remote: remote.description, vni: vni, port: port)
        do {
            _ = try Self.program(record, network: network, local: local, dataplane: dataplane)
        } catch {
            do {
                try store.deleteTunnel(id: record.id ?? -1)
            } catch let cleanup {
                log.error("tunnel \(record.interfaceName): could not remove the record after a failed create: \(cleanup)")
            }
            throw ControlError.wrap(error, code: "dataplane_error", context: "creating tunnel to \(remote) for network \(network.name)")
        }
        log.info("tunnel \(record.interfaceName): network \(network.name) vni \(vni) \(local) -> \(remote):\(port)")
        let interface = dataplane.interfaces().first(where: { $0.name == record.interfaceName })
        return Self.info(record, mtu: network.mtu, local: local.description, interface: interface)
    }

    public func delete(name: String) throws {
        guard let record = try store.tunnels().first(where: { $0.interfaceName == name }) else {
            throw ControlError(.notFound, code: "tunnel_not_found",
                               message: "there is no tunnel named \"\(name)\" (see GET /v1/tunnels)")
        }
        do {
            try dataplane.removeVXLANTunnel(name: name)
        } catch DataplaneError.notFound {
            // Not in the dataplane (its restore failed): the record is all there is.
        } catch {
            throw ControlError.wrap(error, code: "dataplane_error", context: "removing tunnel \(name)")
        }
        try store.deleteTunnel(id: record.id ?? -1)
        log.info("tunnel \(name) to \(record.remote) of network \(record.network) deleted")
    }

    /// The local VTEP: the uplink's address.
    func uplinkAddress() throws -> IPv4Address? {
        guard let uplink = try store.uplink() else { return nil }
        return try UplinkService.parse(address: uplink.address, gateway: nil).address
    }

    /// Programs a recorded tunnel into the dataplane (create and restore).
    static func program(_ record: TunnelRecord, network: NetworkRecord, local: IPv4Address, dataplane: Dataplane) throws -> UInt32 {
        guard let remote = IPv4Address(record.remote) else {
            throw ControlError(.internal, code: "bad_tunnel_record", message: "tunnel \(record.interfaceName): unreadable remote \(record.remote)")
        }
        return try dataplane.addVXLANTunnel(name: record.interfaceName, bridgeDomain: UInt32(network.bridgeDomain),
                                            local: local.value, remote: remote.value, vni: UInt32(record.vni),
                                            port: UInt16(record.port), mtu: network.mtu)
    }

    static func info(_ r: TunnelRecord, mtu: Int, local: String, interface: InterfaceInfo?) -> TunnelInfo {
        TunnelInfo(name: r.interfaceName, network: r.network, local: local, remote: r.remote, vni: r.vni, port: r.port,
                   mtu: mtu, swIfIndex: interface?.index, rxPackets: interface?.rxPackets ?? 0, rxBytes: interface?.rxBytes ?? 0,
                   txPackets: interface?.txPackets ?? 0, txBytes: interface?.txBytes ?? 0, drops: interface?.drops ?? 0)
    }
}
