// Runs another CNI plugin (an IPAM plugin such as host-local) the way the
// specification's delegation protocol says: the executable named by the
// type, found in CNI_PATH; the same environment (CNI_COMMAND possibly
// changed, e.g. DEL to undo a failed ADD); the same configuration on stdin;
// its result or error on stdout.
#if canImport(Glibc)
import Glibc
#endif

struct Delegate {
    let type: String
    let executable: String
    let environment: [String: String]

    /// Finds `type` in `searchPath` (CNI_PATH). Not found is code 7: the
    /// configuration names a plugin this node does not have.
    init(type: String, searchPath: [String], environment: [String: String]) throws {
        guard !searchPath.isEmpty else {
            throw CNIError(CNIError.invalidEnvironment,
                           "CNI_PATH is not set, so IPAM plugin \"\(type)\" cannot be found; set CNI_PATH to the plugin directories, e.g. /opt/cni/bin:/usr/lib/cni")
        }
        guard let found = searchPath.map({ $0.hasSuffix("/") ? $0 + type : $0 + "/" + type })
                .first(where: { access($0, X_OK) == 0 }) else {
            throw CNIError(CNIError.invalidConfig,
                           "IPAM plugin \"\(type)\" was not found in CNI_PATH (\(searchPath.joined(separator: ":"))); install it (Debian: containernetworking-plugins, in /usr/lib/cni) or fix \"ipam\".\"type\"")
        }
        self.type = type
        executable = found
        self.environment = environment
    }

    /// Runs the plugin. Success returns its stdout (empty for DEL, CHECK,
    /// GC, STATUS); failure throws its CNI error, prefixed with its name.
    /// `overrides` replace (or, with nil, remove) environment variables.
    func run(command: String, stdin: [UInt8], overrides: [String: String?] = [:]) throws -> [UInt8] {
        var env = environment
        env["CNI_COMMAND"] = command
        for (key, value) in overrides { env[key] = value }
        let (status, output) = try Self.spawn(executable, env: env, stdin: stdin)
        if status == 0 { return output }
        if let error = try? JSON.parse(output), let code = error["code"]?.int {
            throw CNIError(code, "IPAM plugin \(type) (\(command)): \(error["msg"]?.string ?? "failed")",
                           details: error["details"]?.string ?? "")
        }
        let text = String(decoding: output.prefix(400), as: UTF8.self)
        throw CNIError(CNIError.delegateFailed,
                       "IPAM plugin \(type) (\(command)) failed with exit status \(status) and no CNI error\(text.isEmpty ? "" : ": \(text)")")
    }

    /// The supported versions a plugin reports (VERSION), or [] if it cannot say.
    func supportedVersions(cniVersion: String) -> [String] {
        let query = JSON.object(["cniVersion": .string(cniVersion)]).bytes
        guard let output = try? run(command: "VERSION", stdin: query), let info = try? JSON.parse(output) else { return [] }
        return info["supportedVersions"]?.array?.compactMap(\.string) ?? []
    }

    /// posix_spawn with stdin and stdout on pipes; stderr is inherited so
    /// the delegate's diagnostics reach the runtime's log. Feeds stdin and
    /// drains stdout together (poll), so neither side can block the other.
    static func spawn(_ path: String, env: [String: String], stdin: [UInt8]) throws -> (Int32, [UInt8]) {
        var inPipe: [Int32] = [-1, -1]
        var outPipe: [Int32] = [-1, -1]
        guard pipe(&inPipe) == 0 else { throw systemError("pipe") }
        guard pipe(&outPipe) == 0 else {
            close(inPipe[0]); close(inPipe[1])
            throw systemError("pipe")
        }
        // Only the dup2'd copies (0 and 1) may reach the child.
        for fd in inPipe + outPipe { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, inPipe[0], 0)
        posix_spawn_file_actions_adddup2(&actions, outPipe[1], 1)

        let argv: [UnsafeMutablePointer<CChar>?] = [strdup(path), nil]
        let envp: [UnsafeMutablePointer<CChar>?] = env.sorted { $0.key < $1.key }.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for pointer in argv { free(pointer) }
            for pointer in envp { free(pointer) }
        }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, path, &actions, nil, argv, envp)
        close(inPipe[0])
        close(outPipe[1])
        guard spawned == 0 else {
            close(inPipe[1]); close(outPipe[0])
            throw CNIError(CNIError.delegateFailed, "cannot run \(path): \(String(cString: strerror(spawned)))")
        }

        var output: [UInt8] = []
        var written = 0
        var writeFd: Int32 = inPipe[1]
        if stdin.isEmpty { close(writeFd); writeFd = -1 } else { _ = fcntl(writeFd, F_SETFL, O_NONBLOCK) }
        var buffer = [UInt8](repeating: 0, count: 65536)
        var readOpen = true
        while readOpen {
            var fds = [pollfd(fd: outPipe[0], events: Int16(POLLIN), revents: 0)]
            if writeFd >= 0 { fds.append(pollfd(fd: writeFd, events: Int16(POLLOUT), revents: 0)) }
            if poll(&fds, nfds_t(fds.count), -1) < 0 {
                if errno == EINTR { continue }
                break
            }
            if writeFd >= 0, fds[1].revents != 0 {
                let count = stdin[written...].withUnsafeBytes { write(writeFd, $0.baseAddress, $0.count) }
                if count > 0 { written += count }
                // Done, or the plugin closed its stdin (EPIPE): stop feeding.
                if written >= stdin.count || (count < 0 && errno != EAGAIN && errno != EINTR) {
                    close(writeFd); writeFd = -1
                }
            }
            if fds[0].revents != 0 {
                let count = buffer.withUnsafeMutableBytes { read(outPipe[0], $0.baseAddress, $0.count) }
                if count > 0 {
                    output.append(contentsOf: buffer[0..<count])
                } else if count == 0 || (errno != EINTR && errno != EAGAIN) {
                    readOpen = false
                }
            }
        }
        if writeFd >= 0 { close(writeFd) }
        close(outPipe[0])
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        // WIFEXITED / WEXITSTATUS, which Swift does not import as macros.
        let exitCode = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        return (exitCode, output)
    }

    private static func systemError(_ what: String) -> CNIError {
        CNIError(CNIError.delegateFailed, "\(what): \(String(cString: strerror(errno)))")
    }
}
