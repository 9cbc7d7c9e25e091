// What the API accepts in each field, with messages that say how to fix a
// rejected value. Shared by the network and attachment services so the same
// field is judged the same way everywhere.

public enum FieldRules {
    /// The largest frame a dataplane buffer holds is 1920 bytes; a 1900-byte
    /// MTU plus Ethernet + VLAN headers (18) fits with a margin.
    public static let mtuRange = 576...1900
    /// The engine keeps bridge domains in flat arrays of 1024 (BridgeDomainTable); 0 means "none".
    public static let bridgeDomainRange = 1...1023
    public static let macAgeRange = 1...86_400
    public static let learnLimitRange = 1...1_048_576
    public static let traceCountRange = 1...100_000
    /// VXLAN network identifiers are 24 bits; 0 is left unused.
    public static let vniRange = 1...16_777_215
    public static let udpPortRange = 1...65_535
    /// VRF ids are FIB table indexes: IP4Feature holds 1024 (0 is the default table).
    public static let vrfRange = 0...1023

    /// TAP queues weftd opens on a tap attachment (WEFT_TAP_MAX_QUEUES).
    public static let tapQueueRange = 1...8

    public static let defaultMTU = 1500
    public static let defaultMacAgeSeconds = 300
    public static let defaultLearnLimit = 4096
    public static let defaultIfName = "eth0"

    /// "veth" or "tap", with a veth's driver ("af-packet", "af-xdp") and a
    /// tap's queue count; each combination that makes no sense says why.
    /// Omitted values take the node's defaults (weftd.yaml default_attach, default_driver).
    public static func attachOptions(attach: String?, driver: String?, queues: Int?, defaultAttach: AttachMode = .veth,
                                     defaultDriver: PortDriver = .afPacket) throws -> (AttachMode, PortDriver, Int) {
        let mode: AttachMode
        if let attach {
            guard let m = AttachMode(rawValue: attach) else {
                throw ControlError.invalidField("attach", "attach \"\(attach)\" is not one of: veth, tap")
            }
            mode = m
        } else {
            mode = defaultAttach
        }
        let port = driver == nil ? (mode == .tap ? .afPacket : defaultDriver) : try portDriver(driver)
        if mode == .tap && driver != nil && port != .afPacket {
            throw ControlError.invalidField("driver", "driver \"\(driver!)\" applies to veth attachments; a tap attachment is served by weftd's tap driver itself (leave driver out)")
        }
        if let queues {
            guard mode == .tap else {
                throw ControlError.invalidField("queues", "queues applies to tap attachments only (attach: tap)")
            }
            guard tapQueueRange.contains(queues) else {
                throw ControlError.invalidField("queues", "queues \(queues) is out of range \(tapQueueRange.lowerBound)...\(tapQueueRange.upperBound)")
            }
        }
        return (mode, port, queues ?? 1)
    }

    public static func portDriver(_ driver: String?) throws -> PortDriver {
        guard let driver else { return .afPacket }
        guard let d = PortDriver(rawValue: driver) else {
            throw ControlError.invalidField("driver", "driver \"\(driver)\" is not one of: af-packet, af-xdp")
        }
        return d
    }

    /// [a-z0-9][a-z0-9-]{0,31}: safe in URLs, file names and log lines.
    public static func networkName(_ name: String, field: String = "name") throws {
        let chars = Array(name.utf8)
        let valid = !chars.isEmpty && chars.count <= 32 && isLowerAlnum(chars[0])
            && chars.allSatisfy { isLowerAlnum($0) || $0 == UInt8(ascii: "-") }
        if !valid {
            throw ControlError.invalidField(field,
                "network name \"\(name)\" is invalid; use 1-32 characters of a-z, 0-9 and '-', starting with a letter or digit")
        }
    }

    /// CNI's rule for container ids (alphanumerics, '_', '.', '-'), which
    /// also keeps them usable as a URL path segment.
    public static func containerId(_ id: String) throws {
        let chars = Array(id.utf8)
        let valid = !chars.isEmpty && chars.count <= 256 && isAlnum(chars[0]) && chars.allSatisfy(isIdentifierByte)
        if !valid {
            throw ControlError.invalidField("containerId",
                "containerId \"\(id)\" is invalid; use 1-256 characters of A-Z, a-z, 0-9, '_', '.' and '-', starting with a letter or digit")
        }
    }

    /// A Linux interface name: at most 15 bytes (IFNAMSIZ - 1), no '/',
    /// whitespace or ':', and not "." or "..".
    public static func ifName(_ name: String) throws {
        let chars = Array(name.utf8)
        let valid = !chars.isEmpty && chars.count <= 15 && name != "." && name != ".."
            && chars.allSatisfy(isIdentifierByte)
        if !valid {
            throw ControlError.invalidField("ifName",
                "ifName \"\(name)\" is invalid; use 1-15 characters of A-Z, a-z, 0-9, '_', '.' and '-'")
        }
    }

    /// The kernel's own rule for a link name (dev_valid_name): 1-15 bytes
    /// (IFNAMSIZ - 1), not "." or "..", and no '/', ':' or whitespace (the
    /// kernel's isspace, which includes 0xA0). Control characters are refused
    /// too: the name ends up in logs and tables.
    public static func linkName(_ name: String, field: String = "name") throws {
        let bytes = Array(name.utf8)
        let valid = !bytes.isEmpty && bytes.count <= 15 && name != "." && name != ".."
            && bytes.allSatisfy { byte in
                byte > 0x20 && byte != 0x7f && byte != 0xa0 && byte != UInt8(ascii: "/") && byte != UInt8(ascii: ":")
            }
        if !valid {
            throw ControlError.invalidField(field,
                "interface name \"\(name)\" is invalid; a Linux interface name is 1-15 bytes, not \".\" or \"..\", without '/', ':', whitespace or control characters")
        }
    }

    public static func netnsPath(_ path: String) throws {
        if !path.hasPrefix("/") || path.utf8.count > 4096 || path.contains("\0") {
            throw ControlError.invalidField("netns",
                "netns \"\(path)\" must be an absolute path to a network namespace, e.g. /var/run/netns/ctr1 or /proc/1234/ns/net")
        }
    }

    public static func check(_ value: Int, in range: ClosedRange<Int>, field: String, why: String = "") throws {
        if !range.contains(value) {
            let reason = why.isEmpty ? "" : " (\(why))"
            throw ControlError.invalidField(field,
                "\(field) \(value) is out of range; use \(range.lowerBound) to \(range.upperBound)\(reason)")
        }
    }

    public static func mtu(_ value: Int) throws {
        try check(value, in: mtuRange, field: "mtu", why: "dataplane buffers hold frames of at most 1920 bytes")
    }

    private static func isLowerAlnum(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }

    private static func isAlnum(_ byte: UInt8) -> Bool {
        isLowerAlnum(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
    }

    private static func isIdentifierByte(_ byte: UInt8) -> Bool {
        isAlnum(byte) || byte == UInt8(ascii: "_") || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "-")
    }
}
