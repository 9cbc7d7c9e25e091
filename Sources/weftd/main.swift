import ArgumentParser
import Dispatch
import WeftControl
import WeftEngine
import WeftIP4
#if canImport(Glibc)
import Glibc
#endif

/// weftd: the node daemon. Wires the forwarding engine, the state store, the
/// namespace worker and the API server, restores saved state, then serves
/// until SIGTERM/SIGINT.
struct Weftd: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "weftd", abstract: "Weft userspace dataplane daemon.")

    @Option(help: "YAML configuration file (see configs/weftd.yaml).") var config: String?
    @Option(help: "API unix socket path (default \(WeftConfig.defaultSocketPath)).") var socket: String?
    @Option(help: "SQLite state database (default \(WeftConfig.defaultStatePath)).") var state: String?
    @Option(name: .customLong("worker-cpu"), help: "CPU to pin the forwarding worker to (-1: no pinning).") var workerCPU: Int?
    @Option(name: .customLong("poll-mode"), help: "busy | adaptive") var pollMode: PollMode?
    @Option(name: .customLong("log-level"), help: "debug | info | warning | error") var logLevel: LogLevel?
    @Option(help: "Packet buffers in the arena (2 KiB each).") var buffers = 32768
    @Option(name: .customLong("rx-ring"), help: "AF_PACKET ring version: 2 (per-frame, lowest latency) or 3 (blocks).") var rxRing: Int32 = 2
    @Option(name: .customLong("xdp-mode"), help: "AF_XDP attach mode: auto (native, else generic), native or generic.") var xdpMode: String = "auto"
    @Option(name: .customLong("rx-block-timeout-ms"), help: "TPACKET_V3 block retire timeout in ms.") var rxBlockTimeoutMs: UInt32 = 1
    @Option(name: .customLong("watch-interval"), help: "Seconds between checks for containers whose netns or veth vanished behind weftd's back (0: off).") var watchInterval: Double = 10

    @Option(name: .customLong("fib-algorithm"), help: "IPv4 FIB structure: dxr or dir24-8 (docs/fib.md).") var fibAlgorithm: String?

    @Option(name: .customLong("api-group"), help: "Group (name or gid) whose members may use the API socket (socket mode 0660).") var apiGroup: String?
    @Option(name: .customLong("api-max-body-bytes"), help: "Body limit of bulk API requests (POST /v1/routes/bulk); other requests take at most 1 MiB.") var apiMaxBodyBytes: Int?
    @Option(name: .customLong("api-request-timeout"), help: "Seconds a client has to send a complete API request (408 after).") var apiRequestTimeout: Double?

    func run() throws {
        var cfg = try config.map { try WeftConfig.load(path: $0) } ?? WeftConfig()
        cfg = cfg.overriding(.init(socketPath: socket, statePath: state, workerCPU: workerCPU, pollMode: pollMode, logLevel: logLevel))
        if let apiGroup { cfg.apiGroup = apiGroup }
        if let fibAlgorithm {
            guard let a = FIBAlgorithm(rawValue: fibAlgorithm) else {
                throw ValidationError("--fib-algorithm must be one of \(FIBAlgorithm.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            cfg.fibAlgorithm = a
        }
        if let apiMaxBodyBytes {
            guard apiMaxBodyBytes >= 1024 else { throw ValidationError("--api-max-body-bytes must be at least 1024") }
            cfg.apiMaxBodyBytes = apiMaxBodyBytes
        }
        if let apiRequestTimeout {
            guard apiRequestTimeout > 0 && apiRequestTimeout <= 3600 else { throw ValidationError("--api-request-timeout must be more than 0 and at most 3600 seconds") }
            cfg.apiRequestTimeoutSeconds = apiRequestTimeout
        }
        var apiGID: UInt32?
        if let group = cfg.apiGroup {
            guard let gid = APIAccessPolicy.resolveGroup(group) else { throw ValidationError("api_group \"\(group)\": no such group") }
            apiGID = gid
        }
        let log = WeftLogger.shared
        log.level = cfg.logLevel

        // First: a second weftd on the same state must fail before touching anything.
        let instanceLock = try InstanceLock(statePath: cfg.statePath)

        var settings = EngineSettings()
        settings.buffers = buffers
        settings.workerCPU = cfg.workerCPU >= 0 ? cfg.workerCPU : nil
        settings.pollMode = cfg.pollMode == .busy ? .busy : .adaptive
        guard rxRing == 2 || rxRing == 3 else { throw ValidationError("--rx-ring must be 2 or 3") }
        if rxRing == 3 { settings.afPacket.useV3() }
        guard settings.afXdp.setMode(xdpMode) else { throw ValidationError("--xdp-mode must be auto, native or generic") }
        settings.afPacket.rxRetireMs = rxBlockTimeoutMs
        settings.fibAlgorithm = cfg.fibAlgorithm
        settings.nat.maxSessions = cfg.natMaxSessions
        settings.nat.portRange = UInt16(cfg.natPortRange.lowerBound)...UInt16(cfg.natPortRange.upperBound)
        let dataplane = try EngineDataplane(settings: settings)
        if let why = dataplane.largeFrameSocketError {
            log.warning("veth pods get TSO/GSO off and every super-frame is segmented: \(why)")
        }
        dataplane.start()

        let store = try StateStore(path: cfg.statePath)
        let netns = try NetnsWorker()
        let executor = ControlExecutor()
        let networks = NetworkService(store: store, dataplane: dataplane, log: log)
        let attachments = AttachmentService(store: store, dataplane: dataplane, provisioner: netns, log: log)
        attachments.defaultAttach = cfg.defaultAttach
        attachments.defaultDriver = cfg.defaultDriver
        let hostInterfaces = HostInterfaceService(store: store, dataplane: dataplane, provisioner: netns, log: log)
        let reconciler = Reconciler(store: store, dataplane: dataplane, provisioner: netns, log: log)
        let report = try executor.runSync { try reconciler.run() }
        log.info("restored state: \(report)")

        let server = APIServer(socketPath: cfg.socketPath, networks: networks, attachments: attachments,
                               hostInterfaces: hostInterfaces, dataplane: dataplane, executor: executor,
                               limits: APILimits(maxBulkBodyBytes: cfg.apiMaxBodyBytes, requestTimeoutSeconds: cfg.apiRequestTimeoutSeconds),
                               group: apiGID, log: log)
        try server.start()

        // Containers deleted, and veths removed by hand, while weftd runs.
        let watch = AttachmentWatch(store: store, dataplane: dataplane, provisioner: netns, log: log)
        let watchTimer = DispatchSource.makeTimerSource(queue: DispatchQueue(label: "weft.attachment-watch"))
        if watchInterval > 0 {
            watchTimer.schedule(deadline: .now() + watchInterval, repeating: watchInterval)
            watchTimer.setEventHandler { _ = try? executor.runSync { watch.sweep() } }
            watchTimer.resume()
        }
        // A container that changed its MAC (CNI chaining): l2-input flags it, this follows it.
        let guardTimer = DispatchSource.makeTimerSource(queue: DispatchQueue(label: "weft.source-guard"))
        guardTimer.schedule(deadline: .now() + .milliseconds(250), repeating: .milliseconds(250))
        guardTimer.setEventHandler { _ = try? executor.runSync { attachments.sourceGuardFollower.poll() } }
        guardTimer.resume()
        log.info("weftd listening on \(cfg.socketPath); worker on CPU \(settings.workerCPU.map(String.init) ?? "any"), \(cfg.pollMode.rawValue) polling, \(cfg.fibAlgorithm.rawValue) FIB")

        // Orderly stop: no new requests, finish queued control work, stop the worker.
        // The main thread waits for it and then returns from run(). (Not dispatchMain():
        // that pthread_exit()s the main thread, and exiting from a signal handler then
        // skips every frame's cleanup, which AddressSanitizer reports as stack misuse.)
        signal(SIGTERM, SIG_IGN)
        signal(SIGINT, SIG_IGN)
        let stopped = DispatchSemaphore(value: 0)
        let signalQueue = DispatchQueue(label: "weft.signals")
        let signals = [SIGTERM, SIGINT].map { DispatchSource.makeSignalSource(signal: $0, queue: signalQueue) }
        for source in signals {
            source.setEventHandler {
                for s in signals { s.cancel() }   // a second signal during the stop is ignored
                log.info("weftd stopping")
                server.stop()
                executor.shutdown()
                dataplane.stop()
                netns.shutdown()
                stopped.signal()
            }
            source.resume()
        }
        withExtendedLifetime((signals, instanceLock, watchTimer, guardTimer)) { stopped.wait() }
        watchTimer.cancel()
        guardTimer.cancel()
    }
}

extension PollMode: ExpressibleByArgument {}
extension LogLevel: ExpressibleByArgument {}

Weftd.main()
