import WeftEngine
import WeftIP4
import WeftNAT
import WeftPacket

// NAT44 (WeftNAT): the uplink is the outside (set with the uplink), a
// masquerading network's BVI an inside interface. Changes under the barrier.
extension EngineDataplane {
    public func setMasquerade(bridgeDomain id: UInt32, enabled: Bool) throws {
        guard let bvi = interfaceTable.index(named: Self.bviName(id)) else {
            throw DataplaneError.notFound("bridge domain \(id) has no gateway to masquerade behind")
        }
        worker.withBarrier { nat.setInside(interface: bvi, enabled) }
    }

    public func setNATExclusions(_ prefixes: [(address: UInt32, length: Int)]) throws {
        var list: [IPv4Prefix] = []
        for p in prefixes {
            guard let prefix = IPv4Prefix(address: p.address, length: p.length) else {
                throw DataplaneError.invalid("prefix length \(p.length) is not 0...32")
            }
            list.append(prefix)
        }
        worker.withBarrier { nat.setExclusions(list) }
    }

    public func setNATTimeouts(udp: UInt32, tcpEstablished: UInt32, tcpTransitory: UInt32, icmp: UInt32) throws {
        worker.withBarrier { nat.setTimeouts(udp: udp, tcpEstablished: tcpEstablished, tcpTransitory: tcpTransitory, icmp: icmp) }
    }

    public func addNATMapping(proto: UInt8, externalPort: UInt16, internalAddress: UInt32, internalPort: UInt16) throws {
        let failure: DataplaneError? = worker.withBarrier {
            do {
                try nat.addStaticMapping(protocol: proto, externalPort: externalPort, internalAddress: internalAddress,
                                         internalPort: internalPort)
                return nil
            } catch let error as NAT44Error {
                switch error {
                case .mappingExists, .tooManyMappings: return .conflict("\(error)")
                default: return .invalid("\(error)")
                }
            } catch {
                return .system("\(error)")
            }
        }
        if let failure { throw failure }
    }

    public func removeNATMapping(proto: UInt8, externalPort: UInt16) throws {
        let failure: DataplaneError? = worker.withBarrier {
            do { try nat.removeStaticMapping(protocol: proto, externalPort: externalPort); return nil } catch {
                return .notFound("\(error)")
            }
        }
        if let failure { throw failure }
    }

    public func natSessions(limit: Int) -> [NATSession] {
        worker.withBarrier {
            let now = graph.nowSeconds
            return nat.sessions(limit: limit).map { s in
                func ep(_ a: UInt32, _ p: UInt16) -> String { "\(IPv4.format(a)):\(p)" }
                return NATSession(protocol: Self.protocolName(s.proto), inside: ep(s.insideAddress, s.insidePort),
                                  outside: ep(s.outsideAddress, s.outsidePort), remote: ep(s.remoteAddress, s.remotePort),
                                  state: s.state, ageSeconds: now &- s.lastSeen, isStatic: s.isStatic, isHairpin: s.isHairpin)
            }
        }
    }

    public func natStatistics() -> NATStatistics {
        worker.withBarrier {
            let s = nat.statistics()
            let outside = nat.outsideAddress
            return NATStatistics(outsideAddress: outside == 0 ? nil : IPv4.format(outside), sessions: s.sessions,
                                 tcpSessions: s.tcpSessions, udpSessions: s.udpSessions, icmpSessions: s.icmpSessions,
                                 maxSessions: s.maxSessions, tcpPortsInUse: s.tcpPortsInUse, udpPortsInUse: s.udpPortsInUse,
                                 icmpIdsInUse: s.icmpIdsInUse, staticMappings: s.staticMappings, created: s.created,
                                 expired: s.expired, refusedSessionLimit: s.refusedSessionLimit,
                                 refusedOutOfPorts: s.refusedOutOfPorts)
        }
    }

    public func natLimits() -> (maxSessions: Int, portRange: ClosedRange<UInt16>) {
        (nat.config.maxSessions, nat.config.portRange)
    }

    static func protocolName(_ p: UInt8) -> String {
        switch p {
        case IPv4.protocolTCP: return "tcp"
        case IPv4.protocolUDP: return "udp"
        case IPv4.protocolICMP: return "icmp"
        default: return "\(p)"
        }
    }
}
