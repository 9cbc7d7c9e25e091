#if canImport(Glibc)
import Glibc
#endif
import CXDP
import WeftEngine

/// UMEM addresses <-> pool buffers. The UMEM is the buffer arena itself in
/// aligned mode with 2048-byte chunks, so a descriptor's address names the
/// buffer (high bits) and where its data starts inside it (low 11 bits).
public enum AfXdpAddress {
    /// Where the kernel puts a received frame in its chunk (aligned mode, frame
    /// headroom 0): XDP_PACKET_HEADROOM. It leaves room for VXLAN's 50 bytes.
    public static let rxDataOffset = 256

    @inlinable @inline(__always)
    public static func bufferIndex(_ addr: UInt64) -> UInt32 { UInt32(truncatingIfNeeded: addr &>> UInt64(BufferPool.bufferShift)) }

    @inlinable @inline(__always)
    public static func offset(_ addr: UInt64) -> UInt16 { UInt16(truncatingIfNeeded: addr & UInt64(BufferPool.bufferSize &- 1)) }

    @inlinable @inline(__always)
    public static func address(_ bi: UInt32, offset: UInt16 = 0) -> UInt64 {
        (UInt64(bi) &<< UInt64(BufferPool.bufferShift)) | UInt64(offset)
    }
}

/// One AF_XDP port: the socket with its four rings (libxdp's structs), and
/// our bookkeeping. A plain struct in a flat array, reached per packet
/// without retaining anything.
public struct AfXdpPort {
    public var xsk = weft_xsk_port()
    public var swIfIndex: UInt32 = 0
    public var active = false
    /// Tx descriptors reserved in this vector, not yet submitted.
    var txQueued: UInt32 = 0
    /// Kernel statistics (XDP_STATISTICS) already accounted for.
    var seen = xdp_statistics()
}

public struct AfXdpConfig: Sendable {
    /// Ring sizes in descriptors (powers of two). The fill ring is as large as
    /// the rx ring; every port keeps it full, so each port holds `rxSize`
    /// buffers of the pool while it is open, plus what is in flight on tx.
    public var rxSize: UInt32 = 2048
    public var txSize: UInt32 = 2048
    /// WEFT_XSK_MODE_AUTO (native, then generic), _NATIVE or _GENERIC.
    public var mode: Int32 = Int32(WEFT_XSK_MODE_AUTO)
    /// Try XDP_ZEROCOPY before XDP_COPY. Off by default: veth (what weftd
    /// attaches) has no zero-copy, and a refused first bind costs a UMEM
    /// re-registration (the kernel gives later sockets the UMEM's mode anyway).
    public var zeroCopy = false
    public init() {}

    /// Sets `mode` from its name ("auto", "native", "generic"); false for anything else.
    public mutating func setMode(_ name: String) -> Bool {
        switch name {
        case "auto": mode = Int32(WEFT_XSK_MODE_AUTO)
        case "native": mode = Int32(WEFT_XSK_MODE_NATIVE)
        case "generic": mode = Int32(WEFT_XSK_MODE_GENERIC)
        default: return false
        }
        return true
    }
}

public enum AfXdpError: Error, CustomStringConvertible {
    case open(errno: Int32, message: String)
    case full
    public var description: String {
        switch self {
        case .open(_, let m): return m
        case .full: return "af-xdp: too many ports"
        }
    }
}

/// The AF_XDP ports of one worker and the UMEM they share: the buffer arena,
/// registered with the first socket and unregistered with the last.
///
/// Buffer ownership: a buffer is the kernel's from the moment its address is
/// put on a fill or tx ring until it comes back on the rx or completion ring.
/// `owner[bi]` records which port's kernel side holds it (slot + 1, 0 = ours),
/// so closing a port can hand exactly those buffers back to the pool.
///
/// Opened and closed by the control thread (sockets outside the barrier,
/// table changes under it); read by af-xdp-input/-output on the worker.
public final class AfXdpPorts {
    public static let capacity = 256
    public let ports: UnsafeMutablePointer<AfXdpPort>
    let activeList: UnsafeMutablePointer<Int32>
    public private(set) var activeCount = 0
    public let config: AfXdpConfig
    public let pool: BufferPool
    /// The UMEM (C state; libxdp's handle lives inside).
    let umem: UnsafeMutablePointer<weft_xsk_umem>
    /// Per buffer: slot + 1 of the port whose kernel side holds it, 0 when ours.
    public let owner: UnsafeMutablePointer<UInt16>
    private var memlockRaised = false
    /// Parked ports (slot -> link name): the UMEM's own socket, taken off its
    /// link while other sockets still share the UMEM (see `close`).
    public private(set) var parked: [Int32: String] = [:]

    public init(pool: BufferPool, config: AfXdpConfig = AfXdpConfig()) {
        self.pool = pool
        self.config = config
        ports = .allocate(capacity: AfXdpPorts.capacity)
        ports.initialize(repeating: AfXdpPort(), count: AfXdpPorts.capacity)
        activeList = .allocate(capacity: AfXdpPorts.capacity)
        owner = .allocate(capacity: pool.count)
        owner.initialize(repeating: 0, count: pool.count)
        umem = .allocate(capacity: 1)
        umem.initialize(to: weft_xsk_umem())
        weft_xsk_umem_init(umem, pool.arena, UInt64(pool.count * BufferPool.bufferSize), UInt32(BufferPool.bufferSize),
                           config.rxSize, config.txSize)
    }

    deinit {
        closeAll()
        ports.deallocate()
        activeList.deallocate()
        owner.deallocate()
        umem.deallocate()
    }

    /// Open sockets (active or not).
    public var openCount: Int { (0..<AfXdpPorts.capacity).reduce(0) { $0 + (ports[$1].xsk.xsk != nil ? 1 : 0) } }

    /// Opens `name`: attaches the XDP program and binds a socket on queue 0
    /// (the caller registers the interface, then calls `activate`).
    public func open(name: String) throws -> Int32 {
        var err = [CChar](repeating: 0, count: 512)
        if let slot = parked.first(where: { $0.value == name })?.key {
            // The link's queue 0 is still bound to the parked socket: put it back.
            let rc = weft_xsk_unpark(xsk(slot), name, config.mode, &err, err.count)
            if rc == 0 { parked[slot] = nil; return slot }
            // -ENODEV: a new link of that name; the parked socket's link is gone.
            if rc != -ENODEV { throw AfXdpError.open(errno: -rc, message: String(cString: err)) }
        }
        guard let slot = (0..<AfXdpPorts.capacity).first(where: { !ports[$0].active && ports[$0].xsk.xsk == nil }) else {
            throw AfXdpError.full
        }
        if !memlockRaised {
            let rc = weft_xsk_raise_memlock(&err, err.count)
            if rc != 0 { throw AfXdpError.open(errno: -rc, message: String(cString: err)) }
            memlockRaised = true
        }
        // Opened in place: libxdp keeps pointers to the ring structs (it unmaps
        // the rings through them at close), so they must never move.
        ports[slot] = AfXdpPort()
        let rc = weft_xsk_open(xsk(Int32(slot)), umem, name, config.mode, config.zeroCopy ? 1 : 0,
                               config.rxSize, config.txSize, &err, err.count)
        if rc != 0 { throw AfXdpError.open(errno: -rc, message: String(cString: err)) }
        return Int32(slot)
    }

    /// The C state of a port, at its fixed address in `ports` (what libxdp points into).
    @inline(__always)
    func xsk(_ slot: Int32) -> UnsafeMutablePointer<weft_xsk_port> { (ports + Int(slot)).pointer(to: \.xsk)! }

    public func mac(_ slot: Int32) -> [UInt8] { withUnsafeBytes(of: ports[Int(slot)].xsk.mac) { Array($0) } }
    public func mtu(_ slot: Int32) -> Int { Int(ports[Int(slot)].xsk.mtu) }

    /// "native copy", "generic copy", "native zero-copy", ...
    public func modeDescription(_ slot: Int32) -> String {
        let x = ports[Int(slot)].xsk
        return (x.mode == Int32(WEFT_XSK_MODE_NATIVE) ? "native" : "generic") + (x.zerocopy != 0 ? " zero-copy" : " copy")
    }

    /// Starts polling the port (under the barrier).
    public func activate(_ slot: Int32, swIfIndex: UInt32) {
        ports[Int(slot)].swIfIndex = swIfIndex
        ports[Int(slot)].active = true
        rebuildActiveList()
    }

    /// Stops polling (under the barrier). The socket stays open, and the
    /// buffers on its rings stay the kernel's, until `close`.
    public func detach(_ slot: Int32) {
        ports[Int(slot)].active = false
        rebuildActiveList()
    }

    /// Closes a detached port's socket and detaches its XDP program (control
    /// thread, worker running: the worker no longer looks at the port).
    /// Returns the slots whose buffers `reclaim` must then return (under the barrier).
    ///
    /// The UMEM's own socket (libxdp binds the first socket of a UMEM on the
    /// UMEM's descriptor) cannot be unbound while other sockets share the
    /// UMEM: closing it would leave its link's queue 0 taken, so that link could
    /// not be added again. It is parked instead (program detached, map entry
    /// gone: no frame reaches it), reused if that link comes back, and closed
    /// with the UMEM when the last other socket goes.
    public func close(_ slot: Int32, name: String) -> [Int32] {
        precondition(!ports[Int(slot)].active, "af-xdp: close of an active port")
        if weft_xsk_owns_umem(xsk(slot), umem) != 0 && umem.pointee.sockets > 1 {
            weft_xsk_park(xsk(slot))
            parked[slot] = name
            return []
        }
        weft_xsk_close(xsk(slot), umem)
        var done = [slot]
        if !parked.isEmpty && Int(umem.pointee.sockets) == parked.count {
            for p in parked.keys.sorted() {
                weft_xsk_close(xsk(p), umem)
                done.append(p)
            }
            parked = [:]
        }
        return done
    }

    /// Returns to `buffers` every buffer the closed port's kernel side held
    /// (under the barrier, or on the worker), and frees the slot.
    public func reclaim(_ slot: Int32, into buffers: WorkerBuffers) {
        let tag = UInt16(slot + 1)
        for bi in 0..<pool.count where owner[bi] == tag {
            owner[bi] = 0
            buffers.free(UInt32(bi))
        }
        ports[Int(slot)] = AfXdpPort()
    }

    /// Closes every socket and detaches every program (shutdown). Buffers are
    /// not reclaimed: the pool goes away with the engine.
    public func closeAll() {
        for i in 0..<AfXdpPorts.capacity where ports[i].xsk.xsk != nil {
            ports[i].active = false
            weft_xsk_close(xsk(Int32(i)), umem)
        }
        parked = [:]
        rebuildActiveList()
    }

    public var descriptors: [Int32] { (0..<activeCount).map { ports[Int(activeList[$0])].xsk.fd } }

    private func rebuildActiveList() {
        activeCount = 0
        for i in 0..<AfXdpPorts.capacity where ports[i].active {
            activeList[activeCount] = Int32(i)
            activeCount += 1
        }
    }

    /// Kernel-side drops since the last call (XDP_STATISTICS deltas), summed over active ports.
    public struct KernelDrops { public var rxDropped: UInt64 = 0, rxRingFull: UInt64 = 0, fillRingEmpty: UInt64 = 0, invalid: UInt64 = 0 }

    /// Housekeeping (worker): collects XDP_STATISTICS into the interfaces' drop counters.
    public func collectKernelDrops(into interfaces: InterfaceTable) -> KernelDrops {
        var d = KernelDrops()
        for k in 0..<activeCount {
            let i = Int(activeList[k])
            var s = xdp_statistics()
            guard weft_xsk_statistics(ports[i].xsk.fd, &s) == 0 else { continue }
            let o = ports[i].seen
            let rxDropped = s.rx_dropped &- o.rx_dropped, full = s.rx_ring_full &- o.rx_ring_full
            let empty = s.rx_fill_ring_empty_descs &- o.rx_fill_ring_empty_descs
            let invalid = (s.rx_invalid_descs &- o.rx_invalid_descs) &+ (s.tx_invalid_descs &- o.tx_invalid_descs)
            ports[i].seen = s
            d.rxDropped &+= rxDropped; d.rxRingFull &+= full; d.fillRingEmpty &+= empty; d.invalid &+= invalid
            interfaces.drops[Int(ports[i].swIfIndex)] &+= rxDropped &+ full
        }
        return d
    }
}
