// Attaches containers with veth pairs. setns() changes the namespace of the
// calling OS thread only, so all namespace work runs on one dedicated thread
// that owns the switching: a Swift concurrency or NIO thread that wandered
// into a container's netns would take every later task on it along. The
// thread remembers its home netns (weftd's) and returns to it after every
// job, error or not.
import CNetlink
import CShims
import Dispatch
import Foundation
#if canImport(Glibc)
import Glibc
#endif

public final class NetnsWorker: @unchecked Sendable {
    private let queue: JobQueue
    private let thread: Thread

    /// Starts the dedicated thread. `homeNetnsPath` makes the thread enter
    /// that namespace first and treat it as weftd's (nil: the process's own).
    public init(homeNetnsPath: String? = nil) throws {
        let queue = JobQueue()
        thread = Thread {
            let home = Result { try NetnsWorker.openHome(homeNetnsPath) }
            queue.run(home: home)
        }
        thread.name = "weft-netns"
        self.queue = queue
        thread.start()
        try queue.waitStarted()
    }

    deinit { shutdown() }

    /// Builds the whole attachment or nothing: on any failure everything
    /// created so far is deleted before the error is thrown.
    public func createVeth(_ spec: VethSpec) throws -> VethResult {
        try spec.validate()
        return try queue.sync { home in try Self.build(spec, home: home) }
    }

    /// Deletes the host end (the kernel deletes the peer with it, wherever it
    /// is). Returns false if no such link existed. Slow (~14 ms): after
    /// unregistering, the kernel waits in rcu_barrier() (netdev_run_todo,
    /// rtnl already released) before answering, and jobs queued behind wait.
    public func deleteVeth(hostIfName: String) throws -> Bool {
        try validateIfName(hostIfName, field: "hostIfName")
        return try queue.sync { _ in
            do {
                try call { weft_link_delete(hostIfName, $0, $1) }
                return true
            } catch let e as NetnsError where e.errno == ENODEV {
                return false
            }
        }
    }

    // The existence checks below answer "gone" only when the kernel says so
    // (ENODEV, ENOENT, not a namespace). When weftd cannot tell (out of file
    // descriptors or memory) they answer "exists": the reconciler and the
    // attachment watch delete or rebuild what is gone, and a guess of "gone"
    // would take a healthy container offline.

    /// Whether `name` exists in weftd's namespace.
    public func linkExists(_ name: String) -> Bool {
        do {
            return try queue.sync { _ in try call { weft_link_ifindex(name, $0, $1) } > 0 }
        } catch {
            return !Self.isAbsent(error)
        }
    }

    /// Whether `path` opens as a network namespace (a stale /var/run/netns
    /// file whose namespace is gone does not).
    public func netnsExists(_ path: String) -> Bool {
        do {
            close(try call { weft_netns_open(path, $0, $1) })
            return true
        } catch {
            return !Self.isAbsent(error)
        }
    }

    public func containerLinkExists(netnsPath: String, ifName: String) -> Bool {
        do {
            return try queue.sync { home in
                let fd = try call { weft_netns_open(netnsPath, $0, $1) }
                defer { close(fd) }
                return try Self.inside(fd, label: netnsPath, home: home) { try call { weft_link_ifindex(ifName, $0, $1) } > 0 }
            }
        } catch {
            return !Self.isAbsent(error)
        }
    }

    /// The MAC link `ifName` inside `netnsPath` has now; nil when the
    /// namespace or the link is gone. Throws when weftd cannot look.
    public func containerLinkMAC(netnsPath: String, ifName: String) throws -> [UInt8]? {
        do {
            return try queue.sync { home in
                let fd = try call { weft_netns_open(netnsPath, $0, $1) }
                defer { close(fd) }
                return try Self.inside(fd, label: netnsPath, home: home) {
                    var mac = [UInt8](repeating: 0, count: 6)
                    _ = try call { weft_link_mac(ifName, &mac, $0, $1) }
                    return mac
                }
            }
        } catch {
            if Self.isAbsent(error) { return nil }
            throw error
        }
    }

    /// Every link name in weftd's namespace: one RTM_GETLINK dump
    /// (if_nameindex), instead of one lookup per attachment in a sweep.
    public func linkNames() -> Set<String>? {
        guard let list = if_nameindex() else { return nil }
        defer { if_freenameindex(list) }
        var names = Set<String>()
        var entry = list
        while entry.pointee.if_index != 0, let name = entry.pointee.if_name {
            names.insert(String(cString: name))
            entry += 1
        }
        return names
    }

    /// Whether a failed lookup means the thing is not there (as opposed to
    /// weftd being unable to look).
    static func isAbsent(_ error: Error) -> Bool {
        guard let e = error as? NetnsError else { return true }
        return ![EMFILE, ENFILE, ENOMEM, ENOBUFS].contains(e.errno)
    }

    // MARK: TAP attachments

    /// Creates TAP device `spec.containerIfName` inside `spec.netnsPath`
    /// (no veth: weftd holds the device's `queues` queues and serves it
    /// directly) and configures it as a veth's container end would be: MAC,
    /// MTU, address, default route, up. The device is persistent, so it
    /// outlives a weftd restart; `openTap` takes it over again. Returns the
    /// queue fds, owned by the caller. All or nothing.
    public func createTap(_ spec: VethSpec, queues: Int) throws -> [Int32] {
        try spec.validate()
        return try queue.sync { home in
            let nsfd = try call { weft_netns_open(spec.netnsPath, $0, $1) }
            defer { close(nsfd) }
            return try Self.inside(nsfd, label: spec.netnsPath, home: home) { () throws -> [Int32] in
                if (try? call({ weft_link_ifindex(spec.containerIfName, $0, $1) })) != nil {
                    throw NetnsError(errno: EEXIST, message: "creating tap \(spec.containerIfName) in \(spec.netnsPath): a link of that name already exists there")
                }
                let fds = try Self.openTapQueues(spec.containerIfName, queues: queues, persist: true)
                do {
                    try call { weft_ipv6_disable(spec.containerIfName, $0, $1) }
                    let index = try call { weft_link_configure(spec.containerIfName, nil, spec.mac, Int32(spec.mtu), 1, $0, $1) }
                    try call { weft_link_configure("lo", nil, nil, 0, 1, $0, $1) }
                    try call { weft_addr_add_ipv4(spec.containerIfName, index, spec.address, Int32(spec.prefixLength), $0, $1) }
                    if let gw = spec.gateway {
                        do {
                            try call { weft_route_add_default_ipv4(spec.containerIfName, index, gw, $0, $1) }
                        } catch let e as NetnsError where e.errno == EEXIST && spec.gatewayIfNoDefault {
                            // The container already routes by default elsewhere: keep that.
                        }
                    }
                    // As for a veth (see build): nothing leaves until the qdisc is active.
                    _ = weft_link_wait_running(spec.containerIfName, 100, nil, 0)
                    return fds
                } catch {
                    _ = weft_tap_unpersist(fds[0])
                    fds.forEach { close($0) }
                    throw error
                }
            }
        }
    }

    /// Takes over the queues of TAP `ifName`, which already exists in
    /// `netnsPath` (a weftd restart). The caller owns the fds.
    public func openTap(netnsPath: String, ifName: String, queues: Int) throws -> [Int32] {
        try validateIfName(ifName, field: "ifName")
        return try queue.sync { home in
            let nsfd = try call { weft_netns_open(netnsPath, $0, $1) }
            defer { close(nsfd) }
            return try Self.inside(nsfd, label: netnsPath, home: home) {
                _ = try call { weft_link_ifindex(ifName, $0, $1) }
                return try Self.openTapQueues(ifName, queues: queues, persist: true)
            }
        }
    }

    /// Deletes TAP `ifName` in `netnsPath`. False when the namespace or the
    /// device is already gone.
    public func deleteTap(netnsPath: String, ifName: String) throws -> Bool {
        try validateIfName(ifName, field: "ifName")
        guard netnsExists(netnsPath) else { return false }
        return try queue.sync { home in
            let nsfd = try call { weft_netns_open(netnsPath, $0, $1) }
            defer { close(nsfd) }
            return try Self.inside(nsfd, label: netnsPath, home: home) {
                do {
                    try call { weft_link_delete(ifName, $0, $1) }
                    return true
                } catch let e as NetnsError where e.errno == ENODEV {
                    return false
                }
            }
        }
    }

    /// On the dedicated thread, inside the target namespace.
    private static func openTapQueues(_ name: String, queues: Int, persist: Bool) throws -> [Int32] {
        var fds = [Int32](repeating: -1, count: max(1, queues))
        try fds.withUnsafeMutableBufferPointer { buf in
            _ = try call { weft_tap_open(name, Int32(queues), persist ? 1 : 0, buf.baseAddress!, $0, $1) }
        }
        return fds
    }

    /// Finishes queued jobs, stops the thread. Later calls throw ESHUTDOWN.
    /// Idempotent.
    public func shutdown() {
        queue.stop()
    }

    // MARK: on the dedicated thread

    private static func openHome(_ path: String?) throws -> Int32 {
        if let path {
            let fd = try call { weft_netns_open(path, $0, $1) }
            defer { close(fd) }
            try call { weft_netns_enter(fd, path, $0, $1) }
        }
        return try call { weft_netns_open("/proc/thread-self/ns/net", $0, $1) }
    }

    /// Runs `body` inside the namespace open at `fd` (`label` names it in
    /// errors), then goes home. If going home fails the thread is poisoned
    /// (see JobQueue.broken): doing host work in a container's namespace
    /// would be worse than doing none.
    /// Going home failing is an error of this call too, so no caller can
    /// carry on in the wrong namespace by forgetting to look at `home.broken`.
    private static func inside<T>(_ fd: Int32, label: String, home: Home, _ body: () throws -> T) throws -> T {
        try call { weft_netns_enter(fd, label, $0, $1) }
        let result = Result { try body() }
        if (try? call({ weft_netns_enter(home.fd, "home", $0, $1) })) == nil {
            home.broken = true
            throw NetnsError(errno: EIO, message: "returning to weftd's namespace after working in \(label) failed")
        }
        return try result.get()
    }

    private static func build(_ spec: VethSpec, home: Home) throws -> VethResult {
        let host = spec.hostIfName
        // The peer is born in the container's namespace: moving it there
        // afterwards (dev_change_net_namespace) waits in rcu_barrier(), ~14 ms
        // of a ~1 ms attach. It is born under a temporary name that cannot
        // clash with anything there and gets its real name only once
        // configured; its MAC and MTU are final from birth.
        let peer = "wfp" + String(UInt64.random(in: 0..<(1 << 48)), radix: 16)
        let nsfd = try call { weft_netns_open(spec.netnsPath, $0, $1) }
        defer { close(nsfd) }
        try call { weft_veth_create(host, peer, Int32(spec.mtu), nsfd, spec.netnsPath, spec.mac, $0, $1) }
        do {
            try call { weft_ipv6_disable(host, $0, $1) }
            if !spec.keepSegmentationOffloads { try call { weft_ethtool_segmentation_off(host, $0, $1) } }
            let containerIndex = try inside(nsfd, label: spec.netnsPath, home: home) { () throws -> Int32 in
                if !spec.keepSegmentationOffloads { try call { weft_ethtool_segmentation_off(peer, $0, $1) } }
                // Rename and up in one request: the kernel renames first.
                let index = try call { weft_link_configure(peer, spec.containerIfName, nil, 0, 1, $0, $1) }
                try call { weft_link_configure("lo", nil, nil, 0, 1, $0, $1) }
                try call { weft_addr_add_ipv4(spec.containerIfName, index, spec.address, Int32(spec.prefixLength), $0, $1) }
                // The route needs the link up and the address's subnet route.
                if let gw = spec.gateway {
                    do {
                        try call { weft_route_add_default_ipv4(spec.containerIfName, index, gw, $0, $1) }
                    } catch let e as NetnsError where e.errno == EEXIST && spec.gatewayIfNoDefault {
                        // The container already routes by default elsewhere: keep that.
                    }
                }
                return index
            }
            var mac = [UInt8](repeating: 0, count: 6)
            try call { weft_link_mac(host, &mac, $0, $1) }
            let hostIndex = try call { weft_link_configure(host, nil, nil, 0, 1, $0, $1) }
            // The container's end gets its carrier now, but sends nothing until the
            // kernel's link watcher (a work item that needs RTNL) has activated its
            // qdisc: a pod answering the first ARP request at once lost the answer
            // and waited out the asker's 1 s retransmit (benchmarks/cni.sh, ~1 pod
            // in 200). Wait for operstate UP; past 100 ms go on, the pod is just slow.
            _ = try inside(nsfd, label: spec.netnsPath, home: home) { () throws -> Int32 in
                weft_link_wait_running(spec.containerIfName, 100, nil, 0)
            }
            return VethResult(hostIfIndex: hostIndex, containerIfIndex: containerIndex, hostMac: mac)
        } catch var error as NetnsError {
            // Deleting the host end takes the peer with it, wherever it is.
            if !home.broken {
                do {
                    try call { weft_link_delete(host, $0, $1) }
                } catch let e as NetnsError where e.errno != ENODEV {
                    error.message += "; rollback failed: \(e.message)"
                }
            }
            throw error
        }
    }
}

/// Calls a CNetlink function with an error buffer; turns a negative return
/// into NetnsError carrying the C message.
@discardableResult
private func call(_ fn: (UnsafeMutablePointer<CChar>, Int) -> Int32) throws -> Int32 {
    var buf = [CChar](repeating: 0, count: 512)
    let r = buf.withUnsafeMutableBufferPointer { fn($0.baseAddress!, $0.count) }
    if r < 0 {
        throw NetnsError(errno: -r, message: buf.withUnsafeBufferPointer { String(cString: $0.baseAddress!) })
    }
    return r
}

/// The dedicated thread's home namespace fd and whether it is still there.
private final class Home {
    let fd: Int32
    var broken = false
    init(fd: Int32) { self.fd = fd }
}

/// FIFO of jobs for the dedicated thread; callers block until theirs ran.
private final class JobQueue: @unchecked Sendable {
    private let cond = NSCondition()
    private var jobs: [(Home) -> Void] = []
    private var started: Result<Home, Error>?
    private var stopping = false
    private var exited = false

    /// Called on the dedicated thread: publishes the home netns, then serves
    /// jobs until stop().
    func run(home: Result<Int32, Error>) {
        cond.lock()
        started = home.map { Home(fd: $0) }
        cond.broadcast()
        guard case .success(let home) = started else {
            exited = true
            cond.unlock()
            return
        }
        while true {
            while jobs.isEmpty && !stopping { cond.wait() }
            if jobs.isEmpty { break }
            let job = jobs.removeFirst()
            cond.unlock()
            job(home)
            cond.lock()
        }
        close(home.fd)
        exited = true
        cond.broadcast()
        cond.unlock()
    }

    func waitStarted() throws {
        cond.lock()
        defer { cond.unlock() }
        while started == nil { cond.wait() }
        _ = try started!.get()
    }

    func sync<T>(_ body: @escaping (Home) throws -> T) throws -> T {
        var result: Result<T, Error>?
        cond.lock()
        defer { cond.unlock() }
        guard !stopping, case .success = started else {
            throw NetnsError(errno: ESHUTDOWN, message: "netns worker is shut down")
        }
        jobs.append { [cond] home in
            let r: Result<T, Error> = home.broken
                ? .failure(NetnsError(errno: EIO, message: "netns worker is stuck outside its home namespace"))
                : Result { try body(home) }
            cond.lock()
            result = r
            cond.broadcast()
            cond.unlock()
        }
        cond.broadcast()
        while result == nil { cond.wait() }
        return try result!.get()
    }

    /// Lets queued jobs finish, then waits for the thread to exit.
    func stop() {
        cond.lock()
        stopping = true
        cond.broadcast()
        while started != nil && !exited { cond.wait() }
        cond.unlock()
    }
}
