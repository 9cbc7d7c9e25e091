// What the runtime passes in the environment (CNI specification 1.1.0,
// "Parameters"): the command, the attachment's key, the namespace, CNI_ARGS
// and where to find other plugins.

public enum CNICommand: String, CaseIterable, Sendable {
    case add = "ADD", del = "DEL", check = "CHECK", status = "STATUS", version = "VERSION", gc = "GC"
}

public struct Invocation: Sendable {
    public var command: CNICommand
    public var containerId: String
    public var netns: String
    public var ifName: String
    public var args: CNIArgs
    public var path: [String]
    /// The whole environment, passed on unchanged to delegated plugins.
    public var environment: [String: String]

    /// Reads and checks the variables `command` needs. Required ones must be
    /// set and non-empty; anything else fails with code 4 naming the variable.
    public init(environment: [String: String]) throws {
        self.environment = environment
        func value(_ name: String) -> String? {
            guard let text = environment[name], !text.isEmpty else { return nil }
            return text
        }
        guard let commandText = value("CNI_COMMAND") else {
            throw CNIError(CNIError.invalidEnvironment,
                           "CNI_COMMAND is not set; set it to one of ADD, DEL, CHECK, STATUS, GC or VERSION")
        }
        guard let command = CNICommand(rawValue: commandText) else {
            throw CNIError(CNIError.invalidEnvironment,
                           "CNI_COMMAND \"\(commandText)\" is unknown; use one of ADD, DEL, CHECK, STATUS, GC or VERSION")
        }
        self.command = command

        // Required per command, as the specification lists them.
        let required: [String]
        switch command {
        case .add: required = ["CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME"]
        case .del: required = ["CNI_CONTAINERID", "CNI_IFNAME"]
        case .check: required = ["CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME", "CNI_PATH"]
        case .gc: required = ["CNI_PATH"]
        case .status, .version: required = []
        }
        let missing = required.filter { value($0) == nil }
        if !missing.isEmpty {
            let list = missing.joined(separator: ", ")
            throw CNIError(CNIError.invalidEnvironment,
                           "\(command.rawValue) needs \(list) set (\(Self.hint(for: missing[0])))")
        }
        containerId = value("CNI_CONTAINERID") ?? ""
        netns = value("CNI_NETNS") ?? ""
        ifName = value("CNI_IFNAME") ?? ""
        path = (value("CNI_PATH") ?? "").split(separator: ":").map(String.init).filter { !$0.isEmpty }

        if command == .add || command == .del || command == .check {
            try Self.checkContainerId(containerId)
            try Self.checkIfName(ifName)
            if !netns.isEmpty && !netns.hasPrefix("/") {
                throw CNIError(CNIError.invalidEnvironment,
                               "CNI_NETNS \"\(netns)\" must be an absolute path to a network namespace, e.g. /var/run/netns/ctr1")
            }
        }
        // CNI_ARGS belongs to attachments; STATUS/GC/VERSION ignore it.
        args = command == .add || command == .del || command == .check
            ? try CNIArgs(value("CNI_ARGS") ?? "") : CNIArgs()
    }

    private static func hint(for variable: String) -> String {
        switch variable {
        case "CNI_CONTAINERID": return "CNI_CONTAINERID is the container's id"
        case "CNI_NETNS": return "CNI_NETNS is the path of the container's network namespace, e.g. /var/run/netns/ctr1"
        case "CNI_IFNAME": return "CNI_IFNAME is the interface name inside the container, e.g. eth0"
        default: return "CNI_PATH lists the directories holding CNI plugins, e.g. /opt/cni/bin:/usr/lib/cni"
        }
    }

    /// The specification's rule: alphanumeric first, then alphanumerics, '_', '.', '-'.
    static func checkContainerId(_ id: String) throws {
        let bytes = Array(id.utf8)
        let valid = !bytes.isEmpty && isAlnum(bytes[0])
            && bytes.allSatisfy { isAlnum($0) || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "-") }
        if !valid {
            throw CNIError(CNIError.invalidEnvironment,
                           "CNI_CONTAINERID \"\(id)\" is invalid; it must start with a letter or digit, followed by letters, digits, '_', '.' or '-'")
        }
    }

    /// Linux interface names: 1-15 bytes, not "." or "..", no '/', ':' or whitespace.
    static func checkIfName(_ name: String) throws {
        let bytes = Array(name.utf8)
        let valid = (1...15).contains(bytes.count) && name != "." && name != ".."
            && bytes.allSatisfy { $0 > 0x20 && $0 != 0x7f && $0 != UInt8(ascii: "/") && $0 != UInt8(ascii: ":") }
        if !valid {
            throw CNIError(CNIError.invalidEnvironment,
                           "CNI_IFNAME \"\(name)\" is not a valid interface name; use 1-15 characters without '/', ':' or whitespace, e.g. eth0")
        }
    }

    private static func isAlnum(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
            || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }
}

/// CNI_ARGS: "KEY=VALUE;KEY=VALUE". Following the CNI conventions, a key
/// weft-cni does not know is an error unless IgnoreUnknown=1 (or true) is
/// among them. Known: IP (ask weftd's IPAM for this address) and the
/// Kubernetes pod identifiers.
public struct CNIArgs: Equatable, Sendable {
    public var pairs: [(key: String, value: String)] = []
    public var ignoreUnknown = false
    public var ip: String?

    static let known: Set<String> = ["IgnoreUnknown", "IP", "K8S_POD_NAMESPACE", "K8S_POD_NAME",
                                     "K8S_POD_INFRA_CONTAINER_ID", "K8S_POD_UID"]

    public init() {}

    public init(_ text: String) throws {
        for item in text.split(separator: ";", omittingEmptySubsequences: true) {
            guard let equals = item.firstIndex(of: "="), equals != item.startIndex else {
                throw CNIError(CNIError.invalidEnvironment,
                               "CNI_ARGS \"\(text)\" is malformed at \"\(item)\"; write KEY=VALUE pairs separated by ';'")
            }
            pairs.append((String(item[..<equals]), String(item[item.index(after: equals)...])))
        }
        for (key, value) in pairs where key == "IgnoreUnknown" {
            ignoreUnknown = ["1", "true", "True", "TRUE"].contains(value)
        }
        for (key, value) in pairs {
            if key == "IP" { ip = value }
            if !Self.known.contains(key) && !ignoreUnknown {
                throw CNIError(CNIError.invalidEnvironment,
                               "CNI_ARGS has unknown key \"\(key)\"; weft understands \(Self.known.sorted().joined(separator: ", ")) (add IgnoreUnknown=1 to skip others)")
            }
        }
    }

    public static func == (lhs: CNIArgs, rhs: CNIArgs) -> Bool {
        lhs.pairs.map { "\($0.key)=\($0.value)" } == rhs.pairs.map { "\($0.key)=\($0.value)" }
            && lhs.ignoreUnknown == rhs.ignoreUnknown && lhs.ip == rhs.ip
    }
}
