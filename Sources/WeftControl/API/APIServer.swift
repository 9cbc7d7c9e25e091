import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

/// weftd's HTTP/1.1 + JSON API on a unix socket. Only root, weftd's own
/// user and, with `api_group`, that group's members may configure the
/// dataplane: the socket is mode 0600 (0660 and owned by the group with
/// api_group), and every connection's peer is checked again with
/// SO_PEERCRED (APIAccess.swift). Requests are parsed on a NIO event loop,
/// bounded in size and time (APILimits), and executed one at a time on the
/// control thread.
public final class APIServer {
    public typealias Limits = APILimits

    public enum StartError: Error, CustomStringConvertible {
        case alreadyServing(String)
        case notASocket(String)
        case setup(String, String)

        public var description: String {
            switch self {
            case .alreadyServing(let path):
                return "another process is already serving on \(path); stop it or use another socket path"
            case .notASocket(let path):
                return "\(path) exists and is not a socket; remove it or use another socket path"
            case .setup(let path, let reason):
                return "cannot listen on \(path): \(reason)"
            }
        }
    }

    public let socketPath: String
    private let router: APIRouter
    private let executor: ControlExecutor
    private let limits: Limits
    /// gid of api_group: owns the socket (mode 0660) and its members may connect.
    private let apiGroup: UInt32?
    private let log: WeftLogger
    /// Connections and requests refused (the router's counters: `api/*` in GET /v1/errors).
    public var refusals: APIRefusals { router.refusals }
    private var group: MultiThreadedEventLoopGroup?
    private var channel: Channel?

    public init(socketPath: String, router: APIRouter, executor: ControlExecutor, limits: Limits = .default,
                group: UInt32? = nil, log: WeftLogger = .shared) {
        self.socketPath = socketPath; self.router = router; self.executor = executor; self.limits = limits
        self.apiGroup = group; self.log = log
    }

    public convenience init(socketPath: String, networks: NetworkService, attachments: AttachmentService,
                            hostInterfaces: HostInterfaceService? = nil, dataplane: Dataplane,
                            executor: ControlExecutor, limits: Limits = .default, group: UInt32? = nil,
                            log: WeftLogger = .shared) {
        self.init(socketPath: socketPath,
                  router: APIRouter(networks: networks, attachments: attachments, dataplane: dataplane,
                                    hostInterfaces: hostInterfaces, log: log),
                  executor: executor, limits: limits, group: group, log: log)
    }

    /// Creates the socket's directory if needed, replaces a stale socket file
    /// (one nobody listens on), binds, and restricts the socket to mode 0600
    /// (with a group: owned by it, mode 0660).
    public func start() throws {
        precondition(channel == nil, "APIServer.start() called twice")
        try prepareSocketPath()

        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let routerBox = UncheckedSendable(router)
        let executor = self.executor
        let dispatch: APIChannelHandler.Dispatch = { request, eventLoop in
            executor.submit(on: eventLoop) { routerBox.value.handle(request) }
        }
        var decoderLimits = NIOHTTPDecoderLimitConfiguration()
        decoderLimits.maxHeaderListSize = limits.maxHeaderBytes
        decoderLimits.maxHeaderFieldSize = limits.maxHeaderBytes
        decoderLimits.maxHeaderFieldCount = 100
        let limits = self.limits
        let policy = APIAccessPolicy(group: apiGroup)
        let refusals = self.refusals
        let log = self.log

        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.backlog, value: 64)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(
                        withErrorHandling: false, withEncoderConfiguration: .init(),
                        withDecoderLimitConfiguration: decoderLimits)
                    try channel.pipeline.syncOperations.addHandler(
                        APIChannelHandler(limits: limits, policy: policy, refusals: refusals, log: log, dispatch: dispatch))
                }
            }
        do {
            channel = try bootstrap.bind(unixDomainSocketPath: socketPath, cleanupExistingSocketFile: true).wait()
            // Between bind and chmod the socket has the umask's mode (0755
            // under the usual 022), which already denies connect to others.
            if let gid = apiGroup {
                guard chown(socketPath, uid_t.max, gid) == 0 else {
                    throw StartError.setup(socketPath, "chown to group \(gid) (api_group): \(String(cString: strerror(errno)))")
                }
            }
            let mode: mode_t = apiGroup == nil ? 0o600 : 0o660
            guard chmod(socketPath, mode) == 0 else {
                throw StartError.setup(socketPath, "chmod \(String(mode, radix: 8)): \(String(cString: strerror(errno)))")
            }
        } catch {
            try? channel?.close().wait()
            channel = nil
            try? group.syncShutdownGracefully()
            if let start = error as? StartError { throw start }
            throw StartError.setup(socketPath, "\(error)")
        }
        self.group = group
        log.info("API listening on \(socketPath) (mode \(apiGroup.map { "0660, group \($0)" } ?? "0600"); bodies up to \(limits.maxBodyBytes) bytes, \(limits.maxBulkBodyBytes) on \(APILimits.bulkPaths.sorted().joined(separator: ", ")); requests within \(APILimits.format(limits.requestTimeoutSeconds)) s)")
    }

    /// Stops accepting, closes open connections and removes the socket file.
    public func stop() {
        guard let group else { return }
        try? channel?.close().wait()
        channel = nil
        try? group.syncShutdownGracefully()
        self.group = nil
        unlink(socketPath)
        log.info("API stopped")
    }

    private func prepareSocketPath() throws {
        let directory = (socketPath as NSString).deletingLastPathComponent
        if !directory.isEmpty {
            do {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true,
                                                        attributes: [.posixPermissions: 0o755])
            } catch {
                throw StartError.setup(socketPath, "cannot create \(directory): \(error.localizedDescription)")
            }
        }
        var info = stat()
        guard lstat(socketPath, &info) == 0 else { return }   // nothing there yet
        guard info.st_mode & S_IFMT == S_IFSOCK else { throw StartError.notASocket(socketPath) }
        // A socket file survives kill -9. Only replace it if nobody answers:
        // taking over a live daemon's socket would orphan it silently.
        if let fd = try? UnixSocket.connect(path: socketPath, timeoutSeconds: 1) {
            close(fd)
            throw StartError.alreadyServing(socketPath)
        }
    }
}
