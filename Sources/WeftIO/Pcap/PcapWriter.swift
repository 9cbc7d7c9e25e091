import CPcap

/// Writes a standard pcap file (DLT_EN10MB, microsecond timestamps) through
/// libpcap's dumper, optionally keeping only packets a BPF filter accepts.
/// The filter runs here, on the draining side, never on the worker.
/// Not thread-safe: one consumer thread owns a writer.
public final class PcapWriter {
    public let path: String
    public let filter: String?
    private var handle: OpaquePointer?
    public private(set) var written: UInt64 = 0
    public private(set) var filteredOut: UInt64 = 0

    public static let maxSnaplen = 262_144

    /// Compiles `filter` first (a bad expression leaves the file untouched),
    /// then creates or truncates `path`.
    public init(path: String, snaplen: Int, filter: String?) throws {
        let expression = filter.flatMap { $0.isEmpty ? nil : $0 }
        var err = [CChar](repeating: 0, count: 512)
        var filterFailed: Int32 = 0
        guard let h = weft_pcap_writer_open(path, Int32(min(max(snaplen, 1), Self.maxSnaplen)), expression,
                                            &err, err.count, &filterFailed) else {
            let reason = String(cString: err)
            if filterFailed != 0 { throw PcapError.badFilter(expression: expression ?? "", reason: reason) }
            throw PcapError.cannotWrite(path: path, reason: reason)
        }
        handle = h
        self.path = path
        self.filter = expression
    }

    /// Checks a filter expression without opening a file.
    public static func validate(filter expression: String) throws {
        var err = [CChar](repeating: 0, count: 512)
        if weft_pcap_filter_check(expression, &err, err.count) != 0 {
            throw PcapError.badFilter(expression: expression, reason: String(cString: err))
        }
    }

    deinit { close() }

    /// Appends one packet unless the filter rejects it; returns whether it was written.
    @discardableResult
    public func write(_ bytes: UnsafeRawPointer, capturedLength: Int, wireLength: Int, seconds: Int64, microseconds: Int32) -> Bool {
        guard let handle else { return false }
        let ok = weft_pcap_writer_write(handle, bytes.assumingMemoryBound(to: UInt8.self), UInt32(capturedLength),
                                        UInt32(wireLength), seconds, microseconds) != 0
        if ok { written &+= 1 } else { filteredOut &+= 1 }
        return ok
    }

    /// Pushes buffered records to the file (readers see them).
    public func flush() {
        if let handle { weft_pcap_writer_flush(handle) }
    }

    /// Flushes and closes the file; later writes are ignored.
    public func close() {
        guard let h = handle else { return }
        handle = nil
        weft_pcap_writer_close(h)
    }
}
