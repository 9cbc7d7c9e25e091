// weft-fuzz-pcap: loading a capture file for replay (PcapFile: libpcap's
// pcap and pcapng readers, then weft's checks and flattening), from bytes
// written to a tmpfs file, since PcapFile reads a path (docs/fuzzing.md).
// Invariants: a loaded file has 1...maxPackets frames, each 14...1920
// bytes, whose lengths add up to byteCount <= maxBytes.
#if canImport(Glibc)
import Glibc
#endif
import WeftEngine
import WeftFuzzDriver
import WeftIO

let path = "/dev/shm/weft-fuzz-pcap-\(getpid()).pcap"
let maxPackets = 4096, maxBytes = 1 << 20

runFuzzer { data in
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    fuzzCheck(fd >= 0, "cannot write \(path)")
    var off = 0
    while off < data.count {
        let n = write(fd, data.baseAddress! + off, data.count - off)
        fuzzCheck(n > 0, "short write to \(path)")
        off += n
    }
    close(fd)
    guard let file = try? PcapFile(path: path, maxBytes: maxBytes, maxPackets: maxPackets) else { return }
    fuzzCheck((1...maxPackets).contains(file.packetCount), "packetCount \(file.packetCount)")
    var total = 0
    for i in 0..<file.packetCount {
        let frame = file.frame(i)
        fuzzCheck(frame.count >= 14 && frame.count <= BufferPool.maxDataLength, "frame \(i) is \(frame.count) bytes")
        total += frame.count
    }
    fuzzCheck(total == file.byteCount && total <= maxBytes, "byteCount \(file.byteCount), frames add up to \(total)")
}
