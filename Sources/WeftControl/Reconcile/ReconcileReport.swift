/// What a reconcile pass did, for the start-up log and for tests.
public struct ReconcileReport: Sendable, Equatable, CustomStringConvertible {
    public var bridgeDomainsCreated: [String] = []      // network names
    public var interfacesReopened: [String] = []        // host veth still there, reopened in the dataplane
    public var vethsRecreated: [String] = []            // veth lost, netns alive: rebuilt identically
    public var attachmentsRemoved: [String] = []        // netns gone: "containerId/ifName"
    public var hostInterfacesReopened: [String] = []    // `interface add` links, reopened in the dataplane
    public var hostInterfacesMissing: [String] = []     // link no longer in weftd's namespace: record kept
    public var uplinkRestored: String?                  // the uplink's name, when opened again
    public var routesRestored: [String] = []            // static route prefixes programmed again
    public var tunnelsRestored: [String] = []           // VXLAN tunnel interface names
    public var natMappingsRestored: [String] = []       // "tcp/8080"
    public var failures: [String] = []                  // left in the store for the next start to retry

    public init() {}

    /// The start-up log's account: every list, the long ones (a million
    /// restored routes) cut to their first 20 entries and a count.
    public var description: String {
        func list(_ items: [String]) -> String {
            items.count <= 20 ? "\(items)" : "\(Array(items.prefix(20))) and \(items.count - 20) more"
        }
        return "ReconcileReport(bridgeDomainsCreated: \(list(bridgeDomainsCreated)), interfacesReopened: \(list(interfacesReopened)), "
            + "vethsRecreated: \(list(vethsRecreated)), attachmentsRemoved: \(list(attachmentsRemoved)), "
            + "hostInterfacesReopened: \(list(hostInterfacesReopened)), hostInterfacesMissing: \(list(hostInterfacesMissing)), "
            + "uplinkRestored: \(uplinkRestored ?? "nil"), routesRestored: \(list(routesRestored)), tunnelsRestored: \(list(tunnelsRestored)), "
            + "natMappingsRestored: \(list(natMappingsRestored)), failures: \(list(failures)))"
    }

    public var summary: String {
        "restored \(bridgeDomainsCreated.count) network(s); attachments: \(interfacesReopened.count) reopened, \(vethsRecreated.count) veth(s) recreated, \(attachmentsRemoved.count) removed (namespace gone); host interfaces: \(hostInterfacesReopened.count) reopened, \(hostInterfacesMissing.count) missing; uplink: \(uplinkRestored ?? "none"); \(routesRestored.count) route(s); \(tunnelsRestored.count) tunnel(s); \(natMappingsRestored.count) nat mapping(s); \(failures.count) failed"
    }
}
