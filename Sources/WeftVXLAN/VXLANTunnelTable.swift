import WeftEngine
import WeftPacket

/// VXLAN tunnels, in flat arrays indexed by the tunnel's sw_if_index (the
/// encap side), plus the decap index the receive side looks packets up in.
///
/// - Encap: per tunnel interface, the 36-byte outer header template (IPv4 +
///   UDP + VXLAN) vxlan4-encap copies in front of each frame. IPv4: 0x45,
///   TOS 0, id 0, DF clear, TTL 64, protocol 17, addresses, and the header
///   checksum computed with total length 0, so the per-packet fix-up is one
///   incremental add of the real total length. UDP: source port 0 (set per
///   packet), destination port, length 0 (set per packet), checksum 0 (RFC
///   7348 allows a zero UDP checksum over IPv4). VXLAN: flags 0x08, the VNI.
/// - Decap: an open-addressing hash (linear probing, backward-shift
///   deletion: no tombstones) keyed by (remote address, VNI, UDP port) ->
///   sw_if_index, preallocated at twice the interface capacity so it never
///   fills; and a second one counting tunnels per (VNI, port), so a miss
///   can be told apart as "unknown VNI" or "unknown source VTEP".
///
/// Changed by the control thread under the worker barrier; read by the
/// worker's vxlan4-encap and vxlan4-input.
public final class VXLANTunnelTable {
    public static let capacity = InterfaceTable.capacity
    /// Bytes per tunnel in `template` (one cache line; 36 used).
    public static let templateStride = 64

    public let isTunnel: UnsafeMutablePointer<Bool>
    public let vni: UnsafeMutablePointer<UInt32>
    /// Tunnel source (our VTEP address), host order.
    public let local: UnsafeMutablePointer<UInt32>
    /// Tunnel destination (the remote VTEP), host order.
    public let remote: UnsafeMutablePointer<UInt32>
    /// UDP destination port of encapsulated packets (and the one decap accepts).
    public let port: UnsafeMutablePointer<UInt16>
    /// Underlay FIB table the outer packets are looked up in.
    public let fibIndex: UnsafeMutablePointer<UInt32>
    /// `templateStride` bytes per tunnel: the outer IPv4 + UDP + VXLAN header.
    public let template: UnsafeMutableRawPointer

    @frozen public struct DecapEntry {
        /// remote << 32 | vni; 0 marks an empty slot (remote 0.0.0.0 is never a VTEP).
        public var key: UInt64
        public var port: UInt16
        public var interface: UInt32
    }

    @frozen public struct VNIEntry {
        /// 1 << 40 | vni << 16 | port; 0 marks an empty slot.
        public var key: UInt64
        public var count: UInt32
    }

    let decapCapacity: Int
    @usableFromInline let decapMask: Int
    @usableFromInline let decapShift: UInt64
    @usableFromInline let decap: UnsafeMutablePointer<DecapEntry>
    @usableFromInline let vnis: UnsafeMutablePointer<VNIEntry>
    public private(set) var decapCount = 0
    /// Distinct (VNI, port) pairs with at least one tunnel.
    public private(set) var vniPortCount = 0

    public init() {
        let n = VXLANTunnelTable.capacity
        isTunnel = .allocate(capacity: n); isTunnel.initialize(repeating: false, count: n)
        vni = .allocate(capacity: n); vni.initialize(repeating: 0, count: n)
        local = .allocate(capacity: n); local.initialize(repeating: 0, count: n)
        remote = .allocate(capacity: n); remote.initialize(repeating: 0, count: n)
        port = .allocate(capacity: n); port.initialize(repeating: 0, count: n)
        fibIndex = .allocate(capacity: n); fibIndex.initialize(repeating: 0, count: n)
        template = .allocate(byteCount: n * VXLANTunnelTable.templateStride, alignment: 64)
        template.initializeMemory(as: UInt8.self, repeating: 0, count: n * VXLANTunnelTable.templateStride)
        decapCapacity = 2 * n
        decapMask = decapCapacity - 1
        decapShift = UInt64(64 - decapCapacity.trailingZeroBitCount)
        decap = .allocate(capacity: decapCapacity)
        decap.initialize(repeating: DecapEntry(key: 0, port: 0, interface: 0), count: decapCapacity)
        vnis = .allocate(capacity: decapCapacity)
        vnis.initialize(repeating: VNIEntry(key: 0, count: 0), count: decapCapacity)
    }

    deinit {
        isTunnel.deallocate(); vni.deallocate(); local.deallocate(); remote.deallocate()
        port.deallocate(); fibIndex.deallocate(); template.deallocate()
        decap.deallocate(); vnis.deallocate()
    }

    // MARK: keys and hashing

    @inlinable @inline(__always)
    public static func decapKey(remote: UInt32, vni: UInt32) -> UInt64 { UInt64(remote) &<< 32 | UInt64(vni & VXLAN.maxVNI) }

    @inlinable @inline(__always)
    public static func vniKey(vni: UInt32, port: UInt16) -> UInt64 { 1 &<< 40 | UInt64(vni & VXLAN.maxVNI) &<< 16 | UInt64(port) }

    @inlinable @inline(__always)
    func home(_ key: UInt64, _ port: UInt16) -> Int {
        Int(truncatingIfNeeded: ((key ^ UInt64(port) &<< 24) &* 0x9E37_79B9_7F4A_7C15) &>> decapShift)
    }

    // MARK: per packet (vxlan4-input)

    /// The tunnel for (remote, vni, port), or 0 (no tunnel: sw_if_index 0 is never one).
    @inlinable @inline(__always)
    public func lookup(remote: UInt32, vni: UInt32, port: UInt16) -> UInt32 {
        let key = VXLANTunnelTable.decapKey(remote: remote, vni: vni)
        var i = home(key, port)
        while true {
            let e = decap + i
            if e.pointee.key == key && e.pointee.port == port { return e.pointee.interface }
            if e.pointee.key == 0 { return 0 }
            i = (i &+ 1) & decapMask
        }
    }

    /// True when some tunnel uses (vni, port): tells "unknown VTEP" from "unknown VNI" after a miss.
    @inlinable
    public func hasVNI(_ vni: UInt32, port: UInt16) -> Bool { findVNI(VXLANTunnelTable.vniKey(vni: vni, port: port)) >= 0 }

    @inlinable
    func findVNI(_ key: UInt64) -> Int {
        var i = home(key, 0)
        while true {
            let k = vnis[i].key
            if k == key { return i }
            if k == 0 { return -1 }
            i = (i &+ 1) & decapMask
        }
    }

    // MARK: control thread (under the barrier)

    /// Installs tunnel `interface`: template, decap key, (VNI, port) count.
    /// The caller has checked that the decap key is free (`lookup` == 0).
    public func install(interface: UInt32, local l: UInt32, remote r: UInt32, vni v: UInt32, port p: UInt16, fibIndex f: UInt32) {
        let i = Int(interface)
        precondition(i > 0 && i < VXLANTunnelTable.capacity && !isTunnel[i])
        precondition(lookup(remote: r, vni: v, port: p) == 0, "vxlan: duplicate decap key")
        isTunnel[i] = true
        vni[i] = v; local[i] = l; remote[i] = r; port[i] = p; fibIndex[i] = f
        VXLANTunnelTable.writeTemplate(template + i * VXLANTunnelTable.templateStride, local: l, remote: r, vni: v, port: p)

        let key = VXLANTunnelTable.decapKey(remote: r, vni: v)
        var s = home(key, p)
        while decap[s].key != 0 { s = (s + 1) & decapMask }
        decap[s] = DecapEntry(key: key, port: p, interface: interface)
        decapCount += 1

        let vk = VXLANTunnelTable.vniKey(vni: v, port: p)
        s = home(vk, 0)
        while vnis[s].key != 0 && vnis[s].key != vk { s = (s + 1) & decapMask }
        if vnis[s].key == 0 { vnis[s] = VNIEntry(key: vk, count: 0); vniPortCount += 1 }
        vnis[s].count += 1
    }

    /// Removes tunnel `interface` (its decap key and its share of the (VNI, port) count).
    public func remove(interface: UInt32) {
        let i = Int(interface)
        guard i > 0 && i < VXLANTunnelTable.capacity && isTunnel[i] else { return }
        let key = VXLANTunnelTable.decapKey(remote: remote[i], vni: vni[i])
        var s = home(key, port[i])
        while decap[s].key != 0 {
            if decap[s].key == key && decap[s].port == port[i] {
                removeDecap(slot: s)
                decapCount -= 1
                break
            }
            s = (s + 1) & decapMask
        }
        let vs = findVNI(VXLANTunnelTable.vniKey(vni: vni[i], port: port[i]))
        if vs >= 0 {
            vnis[vs].count -= 1
            if vnis[vs].count == 0 { removeVNI(slot: vs); vniPortCount -= 1 }
        }
        isTunnel[i] = false
        vni[i] = 0; local[i] = 0; remote[i] = 0; port[i] = 0; fibIndex[i] = 0
        (template + i * VXLANTunnelTable.templateStride).initializeMemory(as: UInt8.self, repeating: 0, count: VXLANTunnelTable.templateStride)
    }

    /// Backward-shift deletion: moves later entries of the probe run into the hole.
    private func removeDecap(slot i: Int) {
        var hole = i
        var j = (i + 1) & decapMask
        while decap[j].key != 0 {
            let h = home(decap[j].key, decap[j].port)
            let stays = hole <= j ? (hole < h && h <= j) : (hole < h || h <= j)
            if !stays { decap[hole] = decap[j]; hole = j }
            j = (j + 1) & decapMask
        }
        decap[hole] = DecapEntry(key: 0, port: 0, interface: 0)
    }

    private func removeVNI(slot i: Int) {
        var hole = i
        var j = (i + 1) & decapMask
        while vnis[j].key != 0 {
            let h = home(vnis[j].key, 0)
            let stays = hole <= j ? (hole < h && h <= j) : (hole < h || h <= j)
            if !stays { vnis[hole] = vnis[j]; hole = j }
            j = (j + 1) & decapMask
        }
        vnis[hole] = VNIEntry(key: 0, count: 0)
    }

    /// The 36-byte outer header template (see the type's comment).
    public static func writeTemplate(_ t: UnsafeMutableRawPointer, local: UInt32, remote: UInt32, vni: UInt32, port: UInt16) {
        t.initializeMemory(as: UInt8.self, repeating: 0, count: VXLAN.encapLength)
        t.storeBytes(of: 0x45, as: UInt8.self)
        t.storeBytes(of: 64, toByteOffset: IPv4.offsetTTL, as: UInt8.self)
        t.storeBytes(of: IPv4.protocolUDP, toByteOffset: IPv4.offsetProtocol, as: UInt8.self)
        IPv4.store32(local, t, IPv4.offsetSource)
        IPv4.store32(remote, t, IPv4.offsetDestination)
        IPv4.setHeaderChecksum(t, headerLength: IPv4.minHeaderLength)     // with total length 0
        let udp = t + IPv4.minHeaderLength
        IPv4.store16(port, udp, UDP.offsetDestinationPort)
        VXLAN.write(udp + UDP.headerLength, vni: vni)
    }
}
