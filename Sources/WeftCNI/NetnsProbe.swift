// Looks at an interface inside a container's network namespace, for CHECK:
// exists and up, MAC, MTU, IPv4 address, default route. Plain libc: the
// calling thread enters the namespace (setns affects only it), asks with
// SIOCGIF* ioctls on a socket created inside, reads the thread's view of
// /proc/net/route, and returns to its own namespace.
#if canImport(Glibc)
import Glibc
#endif

struct ContainerLink: Equatable {
    var up: Bool
    var mac: String
    var mtu: Int
    var address: String?          // "10.1.0.7/24"
    var defaultGateways: [String] // default routes through this interface
}

enum NetnsProbe {
    // <linux/sockios.h> and <sched.h> values, stable kernel ABI.
    private static let SIOCGIFFLAGS: UInt = 0x8913
    private static let SIOCGIFADDR: UInt = 0x8915
    private static let SIOCGIFNETMASK: UInt = 0x891b
    private static let SIOCGIFMTU: UInt = 0x8921
    private static let SIOCGIFHWADDR: UInt = 0x8927
    private static let CLONE_NEWNET: Int32 = 0x4000_0000
    private static let IFF_UP: Int16 = 0x1

    /// nil when the namespace has no interface `ifName`. Throws code 101
    /// when the namespace itself cannot be entered.
    static func inspect(netns: String, ifName: String) throws -> ContainerLink? {
        try inside(netns, code: CNIError.checkFailed) { try probe(ifName) }
    }

    /// Whether the namespace already has an IPv4 default route (another
    /// network of the pod installed it). Throws code 4 when the namespace
    /// cannot be entered: CNI_NETNS is wrong.
    static func hasDefaultRoute(netns: String) throws -> Bool {
        try inside(netns, code: CNIError.invalidEnvironment) { !defaultRoutes().isEmpty }
    }

    private static func inside<T>(_ netns: String, code: Int, _ body: () throws -> T) throws -> T {
        let home = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC)
        guard home >= 0 else { throw failure("open /proc/thread-self/ns/net") }
        defer { close(home) }
        let target = open(netns, O_RDONLY | O_CLOEXEC)
        guard target >= 0 else {
            throw CNIError(code, "CNI_NETNS \(netns) cannot be opened: \(String(cString: strerror(errno)))")
        }
        defer { close(target) }
        guard weft_setns(target, CLONE_NEWNET) == 0 else {
            throw CNIError(code, "CNI_NETNS \(netns) is not a network namespace that can be entered: \(String(cString: strerror(errno)))")
        }
        defer { _ = weft_setns(home, CLONE_NEWNET) }
        return try body()
    }

    private static func probe(_ ifName: String) throws -> ContainerLink? {
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw failure("socket") }
        defer { close(fd) }

        // struct ifreq: 16 bytes of name, then a union (sockaddr, short
        // flags, int mtu) at offset 16. 40 bytes covers it on every ABI.
        func ask(_ request: UInt) -> [UInt8]? {
            var ifr = [UInt8](repeating: 0, count: 40)
            let name = Array(ifName.utf8.prefix(15))
            ifr.replaceSubrange(0..<name.count, with: name)
            let result = ifr.withUnsafeMutableBytes { ioctl(fd, request, $0.baseAddress!) }
            return result == 0 ? ifr : nil
        }
        guard let flags = ask(SIOCGIFFLAGS) else {
            if errno == ENODEV { return nil }
            throw failure("SIOCGIFFLAGS \(ifName)")
        }
        let flagBits = Int16(bitPattern: UInt16(flags[16]) | UInt16(flags[17]) << 8)
        guard let hw = ask(SIOCGIFHWADDR), let mtuReq = ask(SIOCGIFMTU) else { throw failure("ioctl \(ifName)") }
        let mac = hw[18..<24].map { byte in (byte < 16 ? "0" : "") + String(byte, radix: 16) }.joined(separator: ":")
        let mtu = Int(UInt32(mtuReq[16]) | UInt32(mtuReq[17]) << 8 | UInt32(mtuReq[18]) << 16 | UInt32(mtuReq[19]) << 24)
        var address: String?
        if let addr = ask(SIOCGIFADDR), let mask = ask(SIOCGIFNETMASK) {
            let prefix = mask[20..<24].reduce(0) { $0 + $1.nonzeroBitCount }
            address = addr[20..<24].map(String.init).joined(separator: ".") + "/\(prefix)"
        }
        let routes = defaultRoutes()
        return ContainerLink(up: flagBits & IFF_UP != 0, mac: mac, mtu: mtu, address: address,
                             defaultGateways: routes.filter { $0.ifName == ifName }.map(\.gateway))
    }

    /// Default IPv4 routes from /proc/thread-self/net/route (the calling
    /// thread's namespace). Columns: Iface Destination Gateway Flags RefCnt
    /// Use Metric Mask ...; addresses in host byte order hex.
    private static func defaultRoutes() -> [(ifName: String, gateway: String)] {
        let fd = open("/proc/thread-self/net/route", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return [] }
        defer { close(fd) }
        var text: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count <= 0 { break }
            text.append(contentsOf: chunk[0..<count])
        }
        var routes: [(ifName: String, gateway: String)] = []
        for line in String(decoding: text, as: UTF8.self).split(separator: "\n").dropFirst() {
            let columns = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard columns.count >= 8, columns[1] == "00000000", columns[7] == "00000000",
                  let gateway = UInt32(columns[2], radix: 16) else { continue }
            // Host byte order as printed: little-endian on the machines we run on.
            let bytes = withUnsafeBytes(of: gateway.littleEndian) { Array($0) }
            routes.append((String(columns[0]), bytes.map(String.init).joined(separator: ".")))
        }
        return routes
    }

    private static func failure(_ what: String) -> CNIError {
        CNIError(CNIError.checkFailed, "\(what): \(String(cString: strerror(errno)))")
    }
}

/// setns(2); declared here because Glibc's module does not export it
/// without _GNU_SOURCE.
@_silgen_name("setns")
private func weft_setns(_ fd: Int32, _ nstype: Int32) -> Int32
