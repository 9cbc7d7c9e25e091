// NAT44: static port mappings of the uplink's address, timeouts and
// exclusions, sessions and statistics. Records first, then the dataplane; a
// failure leaves neither. Control thread only.

import Foundation

public final class NATService {
    let store: StateStore
    let dataplane: Dataplane
    let log: WeftLogger

    /// Idle timeouts until changed with PUT /v1/nat/config (seconds; VPP's NAT44-ED defaults).
    public static let defaultTimeouts = (udp: 300, tcpEstablished: 7440, tcpTransitory: 240, icmp: 60)
    public static let timeoutRange = 1...604_800
    public static let sessionListLimit = 100_000

    public init(store: StateStore, dataplane: Dataplane, log: WeftLogger = .shared) {
        self.store = store; self.dataplane = dataplane; self.log = log
    }

    // MARK: mappings

    public func mappings() throws -> [NATMapping] {
        let outside = try outsideAddress()
        return try store.natMappings().map { Self.wire($0, outside: outside) }
    }

    public func addMapping(_ request: NATMapping) throws -> NATMapping {
        let proto = try Self.parseProtocol(request.protocol)
        try FieldRules.check(request.externalPort, in: FieldRules.udpPortRange, field: "externalPort")
        try FieldRules.check(request.internalPort, in: FieldRules.udpPortRange, field: "internalPort")
        if let id = request.containerId { try FieldRules.containerId(id) }
        guard let target = IPv4Address(request.internalAddress) else {
            throw ControlError.invalidField("internalAddress", "internalAddress \"\(request.internalAddress)\" is not an IPv4 address")
        }
        // NAT44 works in vrf 0 (the uplink's): only those networks can be mapped to.
        let networks = try store.networks()
        let subnets = networks.filter { $0.vrf == 0 }.compactMap { try? IPv4Subnet.parse($0.subnet) }
        guard subnets.contains(where: { $0.contains(target) }) else {
            let elsewhere = networks.filter { $0.vrf != 0 && (try? IPv4Subnet.parse($0.subnet))?.contains(target) == true }.map(\.name)
            throw ControlError.invalidField("internalAddress", elsewhere.isEmpty
                ? "internalAddress \(target) is in no network of this node; map to a container's address (networks: \(subnets.map(\.description).joined(separator: ", ")))"
                : "internalAddress \(target) is in network(s) \(elsewhere.joined(separator: ", ")) of a vrf other than 0; NAT44 maps only to networks in vrf 0 (the uplink's)")
        }
        if proto == 17, try store.tunnels().contains(where: { $0.port == request.externalPort }) {
            throw ControlError(.conflict, code: "port_in_use",
                               message: "udp port \(request.externalPort) of the uplink receives VXLAN tunnels; pick another externalPort",
                               field: "externalPort")
        }
        let record = NATMappingRecord(protocol: request.protocol, externalPort: request.externalPort,
                                      internalAddress: target.description, internalPort: request.internalPort,
                                      containerId: request.containerId)
        try store.createNATMapping(record)
        do {
            try Self.program(record, dataplane: dataplane)
        } catch {
            do { try store.deleteNATMapping(protocol: record.protocol, externalPort: record.externalPort) } catch let cleanup {
                log.error("nat mapping \(record.protocol)/\(record.externalPort): could not remove the record after a failed add: \(cleanup)")
            }
            throw ControlError.wrap(error, code: "dataplane_error", context: "adding nat mapping \(record.protocol) port \(record.externalPort)")
        }
        log.info("nat mapping \(record.protocol) :\(record.externalPort) -> \(record.internalAddress):\(record.internalPort)"
                 + (record.containerId.map { " (container \($0))" } ?? ""))
        return Self.wire(record, outside: try outsideAddress())
    }

    public func deleteMapping(protocol text: String, externalPort: Int) throws {
        let proto = try Self.parseProtocol(text)
        guard try store.natMappings().contains(where: { $0.protocol == text && $0.externalPort == externalPort }) else {
            throw ControlError(.notFound, code: "mapping_not_found", message: "no nat mapping for \(text) port \(externalPort)")
        }
        do {
            try dataplane.removeNATMapping(proto: proto, externalPort: UInt16(clamping: externalPort))
        } catch DataplaneError.notFound {
            // Not in the dataplane (a failed restore): the record is all there is.
        } catch {
            throw ControlError.wrap(error, code: "dataplane_error", context: "removing nat mapping \(text) port \(externalPort)")
        }
        try store.deleteNATMapping(protocol: text, externalPort: externalPort)
        log.info("nat mapping \(text) :\(externalPort) deleted")
    }

    /// Removes the mappings `containerId` owns (to `address` only, when
    /// given): detach and CNI DEL. Returns how many.
    @discardableResult
    public func deleteMappings(containerId: String, address: String? = nil) throws -> Int {
        let owned = try store.natMappings().filter { $0.containerId == containerId && (address == nil || $0.internalAddress == address) }
        for m in owned { try deleteMapping(protocol: m.protocol, externalPort: m.externalPort) }
        return owned.count
    }

    // MARK: config, sessions, statistics

    public func config() throws -> NATConfig {
        let limits = dataplane.natLimits()
        let r = try store.natConfig()
        let d = Self.defaultTimeouts
        return NATConfig(udpTimeout: r?.udpTimeout ?? d.udp, tcpEstablishedTimeout: r?.tcpEstablishedTimeout ?? d.tcpEstablished,
                         tcpTransitoryTimeout: r?.tcpTransitoryTimeout ?? d.tcpTransitory, icmpTimeout: r?.icmpTimeout ?? d.icmp,
                         exclude: r?.excludeList ?? [], maxSessions: limits.maxSessions,
                         portRange: "\(limits.portRange.lowerBound)-\(limits.portRange.upperBound)")
    }

    /// Changes the fields `request` gives (maxSessions and portRange are read only).
    public func updateConfig(_ request: NATConfig) throws -> NATConfig {
        if request.maxSessions != nil || request.portRange != nil {
            throw ControlError.invalidField(request.maxSessions != nil ? "maxSessions" : "portRange",
                "maxSessions and portRange size the session table at start: set them in weftd's configuration (nat_max_sessions, nat_port_range)")
        }
        let current = try config()
        for (value, field) in [(request.udpTimeout, "udpTimeout"), (request.tcpEstablishedTimeout, "tcpEstablishedTimeout"),
                               (request.tcpTransitoryTimeout, "tcpTransitoryTimeout"), (request.icmpTimeout, "icmpTimeout")] {
            if let value { try FieldRules.check(value, in: Self.timeoutRange, field: field) }
        }
        var exclude = current.exclude ?? []
        if let given = request.exclude {
            exclude = try given.map { text in
                do {
                    let p = try RouteService.parsePrefix(text)
                    return "\(p.address)/\(p.length)"
                } catch {
                    throw ControlError.invalidField("exclude", "exclude entry \"\(text)\" is not a.b.c.d/len")
                }
            }
        }
        let record = NATConfigRecord(udpTimeout: request.udpTimeout ?? current.udpTimeout!,
                                     tcpEstablishedTimeout: request.tcpEstablishedTimeout ?? current.tcpEstablishedTimeout!,
                                     tcpTransitoryTimeout: request.tcpTransitoryTimeout ?? current.tcpTransitoryTimeout!,
                                     icmpTimeout: request.icmpTimeout ?? current.icmpTimeout!, exclude: exclude)
        let previous = try store.natConfig()
        try store.setNATConfig(record)
        do {
            try Self.program(record, dataplane: dataplane)
        } catch {
            if let previous { try? store.setNATConfig(previous) }
            throw ControlError.wrap(error, code: "dataplane_error", context: "changing the nat configuration")
        }
        log.info("nat config: timeouts udp \(record.udpTimeout) tcp \(record.tcpEstablishedTimeout)/\(record.tcpTransitoryTimeout) icmp \(record.icmpTimeout); exclude \(record.exclude.isEmpty ? "none" : record.exclude)")
        return try config()
    }

    public func sessions(limit: Int?) throws -> [NATSession] {
        let n = limit ?? 1000
        try FieldRules.check(n, in: 1...Self.sessionListLimit, field: "limit")
        return dataplane.natSessions(limit: n)
    }

    public func statistics() -> NATStatistics { dataplane.natStatistics() }

    // MARK: programming (create and restore)

    static func program(_ record: NATMappingRecord, dataplane: Dataplane) throws {
        guard let target = IPv4Address(record.internalAddress) else {
            throw ControlError(.internal, code: "bad_mapping_record", message: "unreadable mapping address \(record.internalAddress)")
        }
        try dataplane.addNATMapping(proto: try parseProtocol(record.protocol), externalPort: UInt16(clamping: record.externalPort),
                                    internalAddress: target.value, internalPort: UInt16(clamping: record.internalPort))
    }

    static func program(_ record: NATConfigRecord, dataplane: Dataplane) throws {
        try dataplane.setNATTimeouts(udp: UInt32(record.udpTimeout), tcpEstablished: UInt32(record.tcpEstablishedTimeout),
                                     tcpTransitory: UInt32(record.tcpTransitoryTimeout), icmp: UInt32(record.icmpTimeout))
        let prefixes = try record.excludeList.map { text -> (address: UInt32, length: Int) in
            let p = try RouteService.parsePrefix(text)
            return (p.address.value, p.length)
        }
        try dataplane.setNATExclusions(prefixes)
    }

    static func parseProtocol(_ text: String) throws -> UInt8 {
        switch text {
        case "tcp": return 6
        case "udp": return 17
        default: throw ControlError.invalidField("protocol", "protocol \"\(text)\" must be tcp or udp")
        }
    }

    func outsideAddress() throws -> String? {
        guard let uplink = try store.uplink() else { return nil }
        return try? UplinkService.parse(address: uplink.address, gateway: nil).address.description
    }

    static func wire(_ r: NATMappingRecord, outside: String?) -> NATMapping {
        NATMapping(protocol: r.protocol, externalPort: r.externalPort, internalAddress: r.internalAddress,
                   internalPort: r.internalPort, containerId: r.containerId, externalAddress: outside)
    }
}
