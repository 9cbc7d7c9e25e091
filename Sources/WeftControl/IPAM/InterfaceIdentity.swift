// Deterministic names and MACs for an attachment, so a restart (or a
// reconciler recreating a lost veth) produces exactly the same identity.

import WeftPacket

public enum InterfaceIdentity {
    /// Container-side MAC derived from the address, 02:fe:a.b.c.d, the
    /// scheme weave and calico use: locally administered, unicast, and
    /// unique as long as addresses are.
    public static func mac(for address: IPv4Address) -> [UInt8] {
        [0x02, 0xfe] + address.octets
    }

    /// Host-side veth name: "wf" + 8 hex digits of FNV-1a("containerId/ifName").
    /// 10 characters fits IFNAMSIZ (15) with room to spare, and the same
    /// attachment always maps to the same name.
    public static func hostIfName(containerId: String, ifName: String) -> String {
        let hash = fnv1a32(Array("\(containerId)/\(ifName)".utf8))
        let hex = String(hash, radix: 16)
        return "wf" + String(repeating: "0", count: 8 - hex.count) + hex
    }

    /// 32-bit FNV-1a: tiny, stable across runs and platforms (unlike
    /// Swift's randomly seeded Hasher).
    public static func fnv1a32(_ bytes: [UInt8]) -> UInt32 {
        var hash: UInt32 = 0x811c_9dc5
        for byte in bytes {
            hash ^= UInt32(byte)
            hash = hash &* 0x0100_0193
        }
        return hash
    }

    /// "02:fe:0a:01:00:02"; the engine's `MACAddress` text form.
    public static func format(mac: [UInt8]) -> String { MACAddress.format(mac) }

    /// Inverse of `format(mac:)`: "02:fe:0a:01:00:02" -> bytes, nil if malformed.
    public static func parse(mac text: String) -> [UInt8]? { MACAddress.parse(text).map(MACAddress.bytes) }
}
