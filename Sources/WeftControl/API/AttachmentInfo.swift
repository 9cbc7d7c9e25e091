import Foundation

/// An attachment as the API returns it.
public struct AttachmentInfo: Codable, Sendable, Equatable {
    public var containerId: String
    public var ifName: String
    public var network: String
    public var netns: String
    public var hostIfName: String
    public var mac: String            // container end
    public var address: String        // with prefix, "10.1.0.2/24"
    public var mtu: Int
    public var swIfIndex: UInt32?     // nil when the dataplane does not have the interface open
    public var createdAt: String      // RFC 3339, UTC

    public init(containerId: String, ifName: String, network: String, netns: String, hostIfName: String, mac: String,
                address: String, mtu: Int, swIfIndex: UInt32?, createdAt: String) {
        self.containerId = containerId; self.ifName = ifName; self.network = network; self.netns = netns
        self.hostIfName = hostIfName; self.mac = mac; self.address = address; self.mtu = mtu
        self.swIfIndex = swIfIndex; self.createdAt = createdAt
    }

    public init(_ record: AttachmentRecord, swIfIndex: UInt32?) {
        self.init(containerId: record.containerId, ifName: record.ifName, network: record.network,
                  netns: record.netns, hostIfName: record.hostIfName, mac: record.mac,
                  address: "\(record.address)/\(record.prefixLength)", mtu: record.mtu, swIfIndex: swIfIndex,
                  createdAt: Self.rfc3339(record.createdAt))
    }

    static func rfc3339(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: date)
    }
}
