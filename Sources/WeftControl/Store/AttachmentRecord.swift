import Foundation
import GRDB

/// Row of `attachments`: one container interface plugged into a network.
/// Holds everything needed to recreate the veth after a restart.
public struct AttachmentRecord: Codable, Equatable, Sendable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "attachments"
    public static let databaseColumnDecodingStrategy = DatabaseColumnDecodingStrategy.convertFromSnakeCase
    public static let databaseColumnEncodingStrategy = DatabaseColumnEncodingStrategy.convertToSnakeCase

    public var containerId: String
    public var ifName: String
    public var network: String
    public var netns: String
    public var hostIfName: String
    public var mac: String             // container end, "02:fe:0a:01:00:02"
    public var address: String         // "10.1.0.2", prefix separately
    public var prefixLength: Int
    public var mtu: Int
    public var createdAt: Date
    /// Default route inside the container via this address, or none.
    public var gateway: String?
    /// "weft": the address is a lease of weftd's IPAM (a `leases` row);
    /// "external": the caller supplied it and owns it (no lease row).
    public var ipam: String
    /// "veth" (a veth pair; the host end, `hostIfName`, opened with `driver`)
    /// or "tap" (a TAP device named `ifName` inside the container; weftd holds
    /// its queues, and `hostIfName` is only the dataplane interface's name).
    public var attach: String
    /// "af-packet" or "af-xdp" for veth attachments; "tap" for tap ones.
    public var driver: String
    /// TAP queues weftd holds (tap attachments; 1 for veth ones).
    public var queues: Int
    /// Whether l2-input drops frames not from the container's MAC and address.
    public var sourceGuard: Bool
    /// Bandwidth limits (bits/s, bits); nil = that direction is not limited.
    public var ingressRate: Int64?
    public var ingressBurst: Int64?
    public var egressRate: Int64?
    public var egressBurst: Int64?

    public init(containerId: String, ifName: String, network: String, netns: String, hostIfName: String, mac: String,
                address: String, prefixLength: Int, mtu: Int, createdAt: Date, gateway: String? = nil,
                ipam: String = "weft", attach: String = AttachMode.veth.rawValue, driver: String = PortDriver.afPacket.rawValue,
                queues: Int = 1, sourceGuard: Bool = true, bandwidth: BandwidthLimits? = nil) {
        self.containerId = containerId; self.ifName = ifName; self.network = network; self.netns = netns
        self.hostIfName = hostIfName; self.mac = mac; self.address = address; self.prefixLength = prefixLength
        self.mtu = mtu; self.createdAt = createdAt; self.gateway = gateway; self.ipam = ipam
        self.attach = attach; self.driver = driver; self.queues = queues; self.sourceGuard = sourceGuard
        self.bandwidth = bandwidth
    }

    /// The limits as the API shows them; nil when there are none.
    public var bandwidth: BandwidthLimits? {
        get {
            let limits = BandwidthLimits(ingressRate: ingressRate, ingressBurst: ingressBurst,
                                         egressRate: egressRate, egressBurst: egressBurst)
            return limits.isEmpty ? nil : limits
        }
        set {
            ingressRate = newValue?.ingressRate; ingressBurst = newValue?.ingressBurst
            egressRate = newValue?.egressRate; egressBurst = newValue?.egressBurst
        }
    }

    public var isTap: Bool { attach == AttachMode.tap.rawValue }

    /// Whether weftd's IPAM leased the address (and so releases it on detach).
    public var ownsLease: Bool { ipam != "external" }
}
