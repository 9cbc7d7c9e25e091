// The kernel side of an attachment (veth pair, netns configuration) behind a
// protocol, so the attach/detach orchestration and the reconciler can be
// unit-tested without root. weftd uses NetnsWorker; tests use a fake.

public protocol VethProvisioner: AnyObject {
    /// Creates the veth pair: host end `spec.hostIfName` in weftd's
    /// namespace, container end moved into `spec.netnsPath`, renamed, with
    /// MAC, MTU and address set and both ends up.
    func createVeth(_ spec: VethSpec) throws -> VethResult
    /// Deletes the host end (which takes the peer with it). False when it
    /// was already gone.
    func deleteVeth(hostIfName: String) throws -> Bool
    /// Whether a link of that name exists in weftd's namespace.
    func linkExists(_ name: String) -> Bool
    /// Whether `path` names a network namespace that can be entered.
    func netnsExists(_ path: String) -> Bool

    /// TAP attachments: the device lives in the container, weftd holds its
    /// queues (fds, owned by the caller). See NetnsWorker.createTap.
    func createTap(_ spec: VethSpec, queues: Int) throws -> [Int32]
    /// Takes over an existing (persistent) TAP after a restart.
    func openTap(netnsPath: String, ifName: String, queues: Int) throws -> [Int32]
    /// False when the namespace or the device is already gone.
    func deleteTap(netnsPath: String, ifName: String) throws -> Bool
    /// Whether link `ifName` exists inside `netnsPath`.
    func containerLinkExists(netnsPath: String, ifName: String) -> Bool
    /// The current MAC of link `ifName` inside `netnsPath` (it may have
    /// changed since the attachment: CNI chaining, `ip link set address`);
    /// nil when the namespace or the link is gone.
    func containerLinkMAC(netnsPath: String, ifName: String) throws -> [UInt8]?
    /// Every link name in weftd's namespace, from one dump; nil when it
    /// cannot be listed (then ask per link with `linkExists`).
    func linkNames() -> Set<String>?
}

extension VethProvisioner {
    public func linkNames() -> Set<String>? { nil }
}

extension NetnsWorker: VethProvisioner {}
