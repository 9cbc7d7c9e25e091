// weft-fuzz-cni: weft-cni's input parsing, no I/O (docs/fuzzing.md).
//
// Input: byte 0 picks what the rest is:
//   0  the network configuration on stdin: NetConf, then what ADD and GC
//      derive from it (the result built on prevResult in every version,
//      the GC valid-attachments list), and a JSON round trip that must
//      keep the value (delegated plugins and prevResult rely on it)
//   1  the environment, as KEY=VALUE lines: Invocation (CNI_COMMAND,
//      CNI_CONTAINERID, CNI_IFNAME, CNI_NETNS, CNI_PATH, CNI_ARGS)
//   2  stdin of a VERSION call through Plugin.run (answers without weftd)
//   3  CNI_ARGS alone
import WeftFuzzDriver
@testable import WeftCNI

func environment(_ text: String) -> [String: String] {
    var env: [String: String] = [:]
    for line in text.split(separator: "\n") {
        guard let eq = line.firstIndex(of: "=") else { continue }
        env[String(line[..<eq])] = String(line[line.index(after: eq)...])
    }
    return env
}

runFuzzer { data in
    guard let selector = data.first else { return }
    let body = Array(data.dropFirst())
    switch selector % 4 {
    case 0:
        guard let conf = try? NetConf(body) else { return }
        for version in CNIVersion.supported {
            var builder = ResultBuilder(previous: conf.prevResult)
            let index = builder.addInterface(name: "eth0", mac: "02:00:00:00:00:01", mtu: conf.mtu, sandbox: "/var/run/netns/x")
            builder.addIP(address: "10.0.0.2/24", gateway: "10.0.0.1", interface: index)
            builder.dns = conf.dns
            _ = builder.result(version: version).bytes
        }
        _ = try? conf.validAttachments()
        let again = try? JSON.parse(conf.json.bytes)
        fuzzCheck(again == conf.json, "JSON round trip changed \(conf.json) into \(String(describing: again))")
    case 1:
        _ = try? Invocation(environment: environment(String(decoding: body, as: UTF8.self)))
    case 2:
        let out = Plugin.run(environment: ["CNI_COMMAND": "VERSION"], stdin: body)
        fuzzCheck(!out.stdout.isEmpty, "VERSION wrote nothing")
    default:
        _ = try? CNIArgs(String(decoding: body, as: UTF8.self))
    }
}
