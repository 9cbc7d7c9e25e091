/// Why a capture file could not be read or written, or a filter compiled.
/// Messages name the file or expression and say what to fix.
public enum PcapError: Error, CustomStringConvertible, Equatable {
    /// libpcap could not open the file (missing, unreadable, not a capture).
    case cannotOpen(path: String, reason: String)
    case truncated(path: String, reason: String)
    case notEthernet(path: String, linkType: Int32, name: String)
    case tooLarge(path: String, reason: String)
    case empty(path: String)
    case badFrame(path: String, packet: Int, reason: String)
    case badFilter(expression: String, reason: String)
    case cannotWrite(path: String, reason: String)

    public var description: String {
        switch self {
        case .cannotOpen(let path, let reason):
            return "cannot read \(path) as a capture file: \(reason) (give a readable pcap or pcapng file)"
        case .truncated(let path, let reason):
            return "\(path) is truncated: \(reason)"
        case .notEthernet(let path, let linkType, let name):
            return "\(path) has link type \(linkType) (\(name)); only Ethernet (EN10MB) captures can be replayed"
        case .tooLarge(let path, let reason):
            return "\(path) is too large to replay: \(reason)"
        case .empty(let path):
            return "\(path) contains no packets"
        case .badFrame(let path, let packet, let reason):
            return "\(path): packet \(packet) \(reason)"
        case .badFilter(let expression, let reason):
            return "filter \"\(expression)\" is not a valid BPF expression: \(reason)"
        case .cannotWrite(let path, let reason):
            return "cannot write \(path): \(reason) (the directory must exist and be writable)"
        }
    }
}
