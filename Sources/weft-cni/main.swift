// weft-cni: the CNI plugin binary (installed as /opt/cni/bin/weft). The
// logic lives in WeftCNI; this reads the environment and stdin, writes the
// result or error JSON to stdout (and the error message to stderr, for the
// runtime's log), and exits 0 only on success.
import WeftCNI
#if canImport(Glibc)
import Glibc
#endif

// A delegated plugin that exits early must not kill us through its stdin pipe.
signal(SIGPIPE, SIG_IGN)

var environment: [String: String] = [:]
var cursor = environ
while let entry = cursor.pointee {
    let text = String(cString: entry)
    if let equals = text.firstIndex(of: "=") {
        environment[String(text[..<equals])] = String(text[text.index(after: equals)...])
    }
    cursor += 1
}

var input: [UInt8] = []
var chunk = [UInt8](repeating: 0, count: 65536)
while true {
    let count = chunk.withUnsafeMutableBytes { read(0, $0.baseAddress, $0.count) }
    if count > 0 { input.append(contentsOf: chunk[0..<count]); continue }
    if count < 0 && errno == EINTR { continue }
    break
}

let output = Plugin.run(environment: environment, stdin: input)
var offset = 0
while offset < output.stdout.count {
    let written = output.stdout[offset...].withUnsafeBytes { write(1, $0.baseAddress, $0.count) }
    if written < 0 { if errno == EINTR { continue } else { break } }
    offset += written
}
if let error = output.error {
    let line = Array("weft-cni: \(error)\n".utf8)
    _ = line.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
}
exit(output.exitCode)
