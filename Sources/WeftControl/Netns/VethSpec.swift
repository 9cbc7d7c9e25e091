// What NetnsWorker.createVeth is asked to build, what it reports back, and
// how it fails. Validation lives here so bad input is refused before any
// kernel object exists (nothing to roll back).
#if canImport(Glibc)
import Glibc
#endif

public struct VethSpec: Sendable {
    public var hostIfName: String        // <= 15 chars, in weftd's netns
    public var netnsPath: String         // e.g. /var/run/netns/c1, /proc/PID/ns/net
    public var containerIfName: String   // e.g. eth0
    public var mac: [UInt8]              // 6 bytes, container end
    public var mtu: Int                  // both ends
    public var address: String           // "10.1.0.2"
    public var prefixLength: Int         // 24
    public var gateway: String?          // default route via this, if set
    /// The gateway is a default, not a request: skip the route when the
    /// container already has a default route (EEXIST) instead of failing.
    public var gatewayIfNoDefault = false
    /// Leave TSO/GSO on at both ends (the kernel's default): the port's
    /// driver carries 64 KB super-frames through the graph (af-packet V2).
    /// Off otherwise, so the pod's kernel segments before the veth.
    public var keepSegmentationOffloads = false

    public init(hostIfName: String, netnsPath: String, containerIfName: String, mac: [UInt8],
                mtu: Int, address: String, prefixLength: Int, gateway: String?) {
        self.hostIfName = hostIfName
        self.netnsPath = netnsPath
        self.containerIfName = containerIfName
        self.mac = mac
        self.mtu = mtu
        self.address = address
        self.prefixLength = prefixLength
        self.gateway = gateway
    }
}

public struct VethResult: Sendable {
    public var hostIfIndex: Int32        // in weftd's netns
    public var containerIfIndex: Int32   // in the container's netns
    public var hostMac: [UInt8]

    public init(hostIfIndex: Int32, containerIfIndex: Int32, hostMac: [UInt8]) {
        self.hostIfIndex = hostIfIndex
        self.containerIfIndex = containerIfIndex
        self.hostMac = hostMac
    }
}

/// `errno` is the kernel's (or EINVAL for rejected input); `message` says
/// which step and object failed.
public struct NetnsError: Error, CustomStringConvertible {
    public var errno: Int32
    public var message: String
    public var description: String { message }

    public init(errno: Int32, message: String) {
        self.errno = errno
        self.message = message
    }

    static func invalid(_ field: String, _ why: String) -> NetnsError {
        NetnsError(errno: EINVAL, message: "invalid \(field): \(why)")
    }
}

extension VethSpec {
    /// Throws NetnsError (EINVAL) naming the first bad field.
    func validate() throws {
        try validateIfName(hostIfName, field: "hostIfName")
        try validateIfName(containerIfName, field: "containerIfName")
        guard netnsPath.hasPrefix("/") else {
            throw NetnsError.invalid("netnsPath", "'\(netnsPath)' is not an absolute path")
        }
        guard mac.count == 6 else {
            throw NetnsError.invalid("mac", "need 6 bytes, got \(mac.count)")
        }
        guard mac[0] & 1 == 0, mac.contains(where: { $0 != 0 }) else {
            throw NetnsError.invalid("mac", "must be a non-zero unicast address")
        }
        guard (68...65535).contains(mtu) else {
            throw NetnsError.invalid("mtu", "\(mtu) is outside 68...65535")
        }
        guard (0...32).contains(prefixLength) else {
            throw NetnsError.invalid("prefixLength", "\(prefixLength) is outside 0...32")
        }
        guard let addr = parseIPv4(address) else {
            throw NetnsError.invalid("address", "'\(address)' is not a dotted IPv4 address")
        }
        if let gateway {
            guard let gw = parseIPv4(gateway) else {
                throw NetnsError.invalid("gateway", "'\(gateway)' is not a dotted IPv4 address")
            }
            // The kernel would say only "Network is unreachable".
            let mask = IPv4Subnet.mask(prefixLength)
            guard gw & mask == addr & mask, gw != addr else {
                throw NetnsError.invalid("gateway", "\(gateway) is not another host in \(address)/\(prefixLength)")
            }
        }
    }
}

/// Same rules as the kernel's dev_valid_name(), so a name that passes here
/// is not refused later half way through.
func validateIfName(_ name: String, field: String) throws {
    let bytes = Array(name.utf8)
    guard (1...15).contains(bytes.count) else {
        throw NetnsError.invalid(field, "'\(name)' must be 1 to 15 bytes long")
    }
    guard name != ".", name != "..",
          !bytes.contains(where: { $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: ":") || $0 <= 0x20 || $0 == 0x7f })
    else {
        throw NetnsError.invalid(field, "'\(name)' contains '/', ':', whitespace or control characters")
    }
}

/// Host-order IPv4 from strict dotted-quad text (no shorthand, no leading zeros).
func parseIPv4(_ s: String) -> UInt32? { IPv4Address(s)?.value }
