import CPcap
import WeftEngine

/// A capture file loaded whole into memory for replay: every frame's bytes
/// in one flat allocation, with offsets and lengths, so pcap-input copies
/// from plain pointers. Read with libpcap (pcap and pcapng).
public final class PcapFile: @unchecked Sendable {
    public static let defaultMaxBytes = 256 << 20
    public static let defaultMaxPackets = 1 << 20

    public let path: String
    public let packetCount: Int
    /// Sum of the frames' captured lengths.
    public let byteCount: Int
    let bytes: UnsafeMutableRawPointer
    let offsets: UnsafeMutablePointer<Int>
    let lengths: UnsafeMutablePointer<UInt16>

    /// Loads `path`; refuses non-Ethernet link types, truncated files, files
    /// over the limits, empty files and frames a buffer cannot hold.
    public init(path: String, maxBytes: Int = PcapFile.defaultMaxBytes, maxPackets: Int = PcapFile.defaultMaxPackets) throws {
        var err = [CChar](repeating: 0, count: 512)
        guard let p = weft_pcap_reader_open(path, &err, err.count) else {
            let reason = String(cString: err)
            if reason.contains("truncated") { throw PcapError.truncated(path: path, reason: reason) }
            throw PcapError.cannotOpen(path: path, reason: reason)
        }
        defer { weft_pcap_reader_close(p) }
        let link = weft_pcap_reader_linktype(p)
        guard link == WEFT_DLT_EN10MB else {
            throw PcapError.notEthernet(path: path, linkType: link, name: String(cString: weft_pcap_linktype_name(link)))
        }
        var blob: [UInt8] = []
        var lens: [UInt16] = []
        var data: UnsafePointer<UInt8>?
        var caplen: UInt32 = 0, wirelen: UInt32 = 0
        while true {
            let rc = weft_pcap_reader_next(p, &data, &caplen, &wirelen)
            if rc == 0 { break }
            if rc < 0 {
                let reason = String(cString: weft_pcap_reader_error(p))
                if reason.contains("truncated") { throw PcapError.truncated(path: path, reason: reason) }
                throw PcapError.cannotOpen(path: path, reason: reason)
            }
            let n = lens.count + 1
            guard n <= maxPackets else {
                throw PcapError.tooLarge(path: path, reason: "more than \(maxPackets) packets")
            }
            guard caplen >= 14 else {
                throw PcapError.badFrame(path: path, packet: n, reason: "is \(caplen) bytes, shorter than an Ethernet header")
            }
            guard Int(caplen) <= BufferPool.maxDataLength else {
                throw PcapError.badFrame(path: path, packet: n,
                                         reason: "is \(caplen) bytes; buffers hold frames of at most \(BufferPool.maxDataLength) (captured with GSO/TSO on?)")
            }
            guard blob.count + Int(caplen) <= maxBytes else {
                throw PcapError.tooLarge(path: path, reason: "more than \(maxBytes >> 20) MiB of frames")
            }
            blob.append(contentsOf: UnsafeBufferPointer(start: data, count: Int(caplen)))
            lens.append(UInt16(caplen))
        }
        guard !lens.isEmpty else { throw PcapError.empty(path: path) }
        self.path = path
        packetCount = lens.count
        byteCount = blob.count
        let storage = UnsafeMutableRawPointer.allocate(byteCount: max(1, blob.count), alignment: 64)
        blob.withUnsafeBytes { storage.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        bytes = storage
        offsets = .allocate(capacity: lens.count)
        lengths = .allocate(capacity: lens.count)
        var off = 0
        for (i, l) in lens.enumerated() {
            offsets[i] = off
            lengths[i] = l
            off += Int(l)
        }
    }

    deinit {
        bytes.deallocate(); offsets.deallocate(); lengths.deallocate()
    }

    /// Frame `i` as bytes (tests, control side).
    public func frame(_ i: Int) -> [UInt8] {
        Array(UnsafeRawBufferPointer(start: bytes + offsets[i], count: Int(lengths[i])))
    }
}
