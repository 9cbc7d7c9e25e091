// The wire types live in WeftClient (shared with weftctl and weft-cni, which
// must not pull in the engine, NIO or SQLite); here they learn to be built
// from weftd's own records and errors. Re-exported, so `import WeftControl`
// keeps providing UnixHTTPClient and every request/response type.

@_exported import WeftClient
import Foundation

extension NetworkInfo {
    public init(_ record: NetworkRecord, remoteVteps: [String]? = nil) {
        self.init(name: record.name, bridgeDomain: UInt32(clamping: record.bridgeDomain), subnet: record.subnet,
                  mtu: record.mtu, macAgeSeconds: record.macAgeSeconds, learnLimit: record.learnLimit,
                  vni: record.vni, rangeStart: record.rangeStart, rangeEnd: record.rangeEnd,
                  remoteVteps: record.vni == nil && (remoteVteps ?? []).isEmpty ? nil : remoteVteps ?? [],
                  masquerade: record.masquerade, vrf: record.vrf == 0 ? nil : record.vrf)
    }
}

extension AttachmentInfo {
    public init(_ record: AttachmentRecord, swIfIndex: UInt32?, hostMac: String? = nil) {
        self.init(containerId: record.containerId, ifName: record.ifName, network: record.network,
                  netns: record.netns, hostIfName: record.hostIfName, hostMac: hostMac, mac: record.mac,
                  address: "\(record.address)/\(record.prefixLength)", gateway: record.gateway,
                  ipam: record.ipam == AttachmentInfo.IPAM.external.rawValue ? .external : .weft,
                  mtu: record.mtu, swIfIndex: swIfIndex, createdAt: Self.rfc3339(record.createdAt),
                  attach: record.attach, driver: record.isTap ? "tap" : record.driver, queues: record.isTap ? record.queues : nil,
                  sourceGuard: record.sourceGuard, bandwidth: record.bandwidth)
    }

    static func rfc3339(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: date)
    }
}

extension ErrorResponse {
    public init(_ error: ControlError) {
        self.init(error: Detail(code: error.code, message: error.message, field: error.field))
    }
}
