/// Software interfaces (VPP's sw_if_index space). The forwarding path reads
/// the flat per-interface arrays; names and descriptive fields are for the
/// control thread. Changes happen under the worker barrier.
public final class InterfaceTable {
    public static let capacity = 4096
    public static let noBridgeDomain: UInt32 = 0

    /// Bridge domain of each interface, `noBridgeDomain` when not bridged.
    public let bridgeDomain: UnsafeMutablePointer<UInt32>
    /// Node that transmits on each interface (af-packet-output, pg-output, ...).
    public let outputNode: UnsafeMutablePointer<Int32>
    /// Index of the interface in its driver's own table.
    public let driverInstance: UnsafeMutablePointer<Int32>
    public let up: UnsafeMutablePointer<Bool>
    /// Largest L3 payload; ethernet-input drops longer frames.
    public let mtu: UnsafeMutablePointer<UInt16>
    public let rxPackets: UnsafeMutablePointer<UInt64>
    public let rxBytes: UnsafeMutablePointer<UInt64>
    public let txPackets: UnsafeMutablePointer<UInt64>
    public let txBytes: UnsafeMutablePointer<UInt64>
    public let drops: UnsafeMutablePointer<UInt64>
    /// Split-horizon group of each interface (0 = none). The L2 path never
    /// sends a frame out of a member of the group it came in on (VXLAN
    /// tunnels are group 1: what arrives from one tunnel never leaves on another).
    public let splitHorizonGroup: UnsafeMutablePointer<UInt8>
    /// 1 when the interface's output node takes buffer chains and GSO
    /// super-frames whole (tap-output: the kernel segments, or not at all);
    /// l2-output hands such frames for any other interface to gso-segment.
    public let takesLargeFrames: UnsafeMutablePointer<UInt8>

    public struct Description: Sendable {
        public var name: String
        public var driver: String
        public var mac: [UInt8]
        public var mtu: Int
        /// Driver specifics for `show interfaces`: how the port runs
        /// ("tpacket-v2", "native", "generic", "vnet-hdr", "replay loop"...),
        /// its queues and its rx/tx ring sizes in frames (0 = not applicable).
        public var mode = ""
        public var queues = 0
        public var rxRingSize = 0
        public var txRingSize = 0
        public init(name: String, driver: String, mac: [UInt8], mtu: Int) {
            self.name = name; self.driver = driver; self.mac = mac; self.mtu = mtu
        }
    }
    public private(set) var descriptions: [Description?] = []

    public init() {
        let n = InterfaceTable.capacity
        bridgeDomain = .allocate(capacity: n); bridgeDomain.initialize(repeating: 0, count: n)
        outputNode = .allocate(capacity: n); outputNode.initialize(repeating: -1, count: n)
        driverInstance = .allocate(capacity: n); driverInstance.initialize(repeating: -1, count: n)
        up = .allocate(capacity: n); up.initialize(repeating: false, count: n)
        mtu = .allocate(capacity: n); mtu.initialize(repeating: 1500, count: n)
        rxPackets = .allocate(capacity: n); rxPackets.initialize(repeating: 0, count: n)
        rxBytes = .allocate(capacity: n); rxBytes.initialize(repeating: 0, count: n)
        txPackets = .allocate(capacity: n); txPackets.initialize(repeating: 0, count: n)
        txBytes = .allocate(capacity: n); txBytes.initialize(repeating: 0, count: n)
        drops = .allocate(capacity: n); drops.initialize(repeating: 0, count: n)
        splitHorizonGroup = .allocate(capacity: n); splitHorizonGroup.initialize(repeating: 0, count: n)
        takesLargeFrames = .allocate(capacity: n); takesLargeFrames.initialize(repeating: 0, count: n)
        // Index 0 is never handed out: it reads as "no interface" in metadata.
        descriptions = [Description(name: "local0", driver: "local", mac: [0, 0, 0, 0, 0, 0], mtu: 0)]
    }

    deinit {
        bridgeDomain.deallocate(); outputNode.deallocate(); driverInstance.deallocate(); up.deallocate(); mtu.deallocate()
        rxPackets.deallocate(); rxBytes.deallocate(); txPackets.deallocate(); txBytes.deallocate(); drops.deallocate()
        splitHorizonGroup.deallocate(); takesLargeFrames.deallocate()
    }

    /// Adds an interface (admin up) and returns its index, or nil when full.
    public func add(name: String, driver: String, mac: [UInt8], mtu: Int, outputNode node: Int32, driverInstance instance: Int32) -> UInt32? {
        var slot = descriptions.firstIndex(where: { $0 == nil })
        if slot == nil {
            guard descriptions.count < InterfaceTable.capacity else { return nil }
            descriptions.append(nil)
            slot = descriptions.count - 1
        }
        let i = slot!
        descriptions[i] = Description(name: name, driver: driver, mac: mac, mtu: mtu)
        outputNode[i] = node
        driverInstance[i] = instance
        bridgeDomain[i] = InterfaceTable.noBridgeDomain
        splitHorizonGroup[i] = 0
        takesLargeFrames[i] = 0
        up[i] = true
        self.mtu[i] = UInt16(clamping: mtu)
        for c in [rxPackets, rxBytes, txPackets, txBytes, drops] { c[i] = 0 }
        return UInt32(i)
    }

    /// Records how a driver runs interface `index` (control thread, under the barrier).
    public func setDetails(_ index: UInt32, mode: String, queues: Int, rxRingSize: Int, txRingSize: Int) {
        guard Int(index) < descriptions.count, descriptions[Int(index)] != nil else { return }
        descriptions[Int(index)]!.mode = mode
        descriptions[Int(index)]!.queues = queues
        descriptions[Int(index)]!.rxRingSize = rxRingSize
        descriptions[Int(index)]!.txRingSize = txRingSize
    }

    public func remove(_ index: UInt32) {
        let i = Int(index)
        guard i > 0, i < descriptions.count else { return }
        descriptions[i] = nil
        up[i] = false
        outputNode[i] = -1
        driverInstance[i] = -1
        bridgeDomain[i] = InterfaceTable.noBridgeDomain
        splitHorizonGroup[i] = 0
        takesLargeFrames[i] = 0
    }

    public func index(named name: String) -> UInt32? {
        descriptions.firstIndex(where: { $0?.name == name }).map { UInt32($0) }
    }

    public func name(_ index: UInt32) -> String {
        Int(index) < descriptions.count ? descriptions[Int(index)]?.name ?? "if\(index)" : "if\(index)"
    }

    /// Indices of existing interfaces (index 0, local0, excluded).
    public var indices: [UInt32] {
        descriptions.indices.dropFirst().filter { descriptions[$0] != nil }.map { UInt32($0) }
    }
}
