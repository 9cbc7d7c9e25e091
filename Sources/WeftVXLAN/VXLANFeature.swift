import WeftEngine
import WeftIP4
import WeftL2
import WeftPacket

/// Why a VXLAN configuration change was refused; nothing is left behind.
public enum VXLANError: Error, Equatable, CustomStringConvertible {
    case invalidVNI(UInt32)
    case invalidAddress(UInt32)
    case duplicate(String)
    case interfaceTableFull
    case bridgeDomainMissing(UInt32)
    case bridgeDomainFull(UInt32)
    case notATunnel(UInt32)

    public var description: String {
        switch self {
        case .invalidVNI(let v): return "VNI \(v) is out of range (0...\(VXLAN.maxVNI))"
        case .invalidAddress(let a): return "\(IPv4.format(a)) is not a usable unicast VTEP address"
        case .duplicate(let what): return what
        case .interfaceTableFull: return "the interface table is full"
        case .bridgeDomainMissing(let id): return "bridge domain \(id) does not exist"
        case .bridgeDomainFull(let id): return "bridge domain \(id) has no room for another member"
        case .notATunnel(let i): return "interface \(i) is not a VXLAN tunnel"
        }
    }
}

/// One tunnel, as `show vxlan tunnel` prints it. Addresses host byte order.
public struct VXLANTunnelInfo: Sendable, Equatable {
    public var interface: UInt32
    public var local: UInt32
    public var remote: UInt32
    public var vni: UInt32
    public var port: UInt16
    public var fibIndex: UInt32

    public init(interface: UInt32, local: UInt32, remote: UInt32, vni: UInt32, port: UInt16, fibIndex: UInt32) {
        self.interface = interface; self.local = local; self.remote = remote
        self.vni = vni; self.port = port; self.fibIndex = fibIndex
    }
}

/// The VXLAN (RFC 7348) feature: unicast point-to-point tunnels that carry a
/// bridge domain between nodes, as VPP's vxlan_tunnelN.
///
/// A tunnel is a software interface (driver "vxlan") whose output node is
/// vxlan4-encap, a member of one bridge domain in split-horizon group 1: a
/// flood from a local port is copied to every tunnel (head-end
/// replication), a frame from a tunnel never leaves on another tunnel.
/// Received VXLAN reaches vxlan4-input through ip4-local's UDP port table
/// and enters the bridge domain as received on the tunnel (MAC learning
/// then points remote MACs at the tunnel).
///
/// ```
/// l2-output (tx = tunnel) -> vxlan4-encap -> ip4-lookup -> ip4-rewrite -> underlay
/// underlay -> ip4-input -> ip4-lookup -> ip4-local -> vxlan4-input -> l2-input
/// ```
///
/// No multicast/flood-list VTEPs, no IPv6 underlay, no learning of VTEPs
/// from received packets: every remote VTEP is configured.
public final class VXLANFeature {
    public static let overhead = VXLAN.overhead
    /// Split-horizon group of every tunnel interface.
    public static let splitHorizonGroup: UInt8 = 1

    public let tunnels: VXLANTunnelTable
    let ip4: IP4Feature
    let l2: L2Feature
    private(set) var graph: Graph?
    /// Graph node indices, known after `register(in:)`.
    public private(set) var encapNode: Int32 = -1
    public private(set) var inputNode: Int32 = -1

    public init(ip4: IP4Feature, l2: L2Feature) {
        self.ip4 = ip4
        self.l2 = l2
        tunnels = VXLANTunnelTable()
    }

    /// Registers vxlan4-encap and vxlan4-input (before `graph.finalize()`).
    public func register(in graph: Graph) {
        self.graph = graph
        encapNode = graph.register(VXLAN4EncapNode(tunnels: tunnels))
        inputNode = graph.register(VXLAN4InputNode(tunnels: tunnels))
    }

    /// Under the worker barrier: adds interface `name` (driver "vxlan", MTU
    /// `mtu` = largest inner L3 payload, split-horizon group 1), puts it in
    /// bridge domain `bridgeDomain`, installs the encap template and the
    /// decap key, registers `port` with ip4-local. Addresses host byte order.
    /// Throws and leaves nothing behind on failure (`invalidAddress(local)`
    /// also when `fibIndex` is beyond the FIB's table indexes).
    public func createTunnel(name: String, local: UInt32, remote: UInt32, vni: UInt32, port: UInt16 = VXLAN.defaultPort,
                             bridgeDomain: UInt32, mtu: Int, fibIndex: UInt32 = 0) throws -> UInt32 {
        guard let graph else { preconditionFailure("vxlan: createTunnel before register(in:)") }
        let interfaces = graph.interfaces
        guard vni <= VXLAN.maxVNI else { throw VXLANError.invalidVNI(vni) }
        for a in [local, remote] where a == 0 || IPv4.isMulticastOrReserved(a) { throw VXLANError.invalidAddress(a) }
        guard local != remote else { throw VXLANError.invalidAddress(remote) }
        // The underlay table index must exist as an index (ip4-lookup indexes
        // views with it); a table not created yet just drops (no-route-local).
        guard Int(fibIndex) < ip4.fib.capacity else { throw VXLANError.invalidAddress(local) }
        guard l2.domains.isValid(bridgeDomain), l2.domains.exists[Int(bridgeDomain)] else {
            throw VXLANError.bridgeDomainMissing(bridgeDomain)
        }
        if interfaces.index(named: name) != nil { throw VXLANError.duplicate("interface \(name) already exists") }
        let existing = tunnels.lookup(remote: remote, vni: vni, port: port)
        if existing != 0 {
            throw VXLANError.duplicate("tunnel to \(IPv4.format(remote)) VNI \(vni) port \(port) already exists (\(interfaces.name(existing)))")
        }
        if let owner = ip4.localPorts.owner(port: port), owner != inputNode {
            throw VXLANError.duplicate("UDP port \(port) is used by another feature")
        }
        guard let i = interfaces.add(name: name, driver: "vxlan", mac: [0, 0, 0, 0, 0, 0], mtu: mtu,
                                     outputNode: encapNode, driverInstance: -1) else {
            throw VXLANError.interfaceTableFull
        }
        guard l2.attach(i, to: bridgeDomain, interfaces: interfaces) else {
            interfaces.remove(i)
            throw VXLANError.bridgeDomainFull(bridgeDomain)
        }
        interfaces.splitHorizonGroup[Int(i)] = VXLANFeature.splitHorizonGroup
        // vxlan4-encap turns a TCP super-frame into UDP GSO frames of datagrams itself.
        interfaces.takesLargeFrames[Int(i)] = 1
        tunnels.install(interface: i, local: local, remote: remote, vni: vni, port: port, fibIndex: fibIndex)
        ip4.localPorts.register(port: port, node: inputNode)
        return i
    }

    /// Under the barrier: removes everything createTunnel made (MACs learned on it flushed).
    public func deleteTunnel(interface: UInt32) throws {
        guard let graph else { preconditionFailure("vxlan: deleteTunnel before register(in:)") }
        let i = Int(interface)
        guard i > 0, i < VXLANTunnelTable.capacity, tunnels.isTunnel[i] else { throw VXLANError.notATunnel(interface) }
        let port = tunnels.port[i]
        l2.detach(interface, interfaces: graph.interfaces)
        tunnels.remove(interface: interface)
        ip4.localPorts.unregister(port: port)
        graph.interfaces.remove(interface)
    }

    public func tunnel(interface: UInt32) -> VXLANTunnelInfo? {
        let i = Int(interface)
        guard i > 0, i < VXLANTunnelTable.capacity, tunnels.isTunnel[i] else { return nil }
        return VXLANTunnelInfo(interface: interface, local: tunnels.local[i], remote: tunnels.remote[i],
                               vni: tunnels.vni[i], port: tunnels.port[i], fibIndex: tunnels.fibIndex[i])
    }

    /// sw_if_index of every tunnel, ascending.
    public var tunnelInterfaces: [UInt32] {
        (1..<VXLANTunnelTable.capacity).filter { tunnels.isTunnel[$0] }.map { UInt32($0) }
    }
}
