// Static routes: validates them, records them, and programs them into the
// FIB table of their VRF. Called only from the control thread.
//
// Built for bulk loads of a million routes: the networks and the uplink are
// looked at once per request (not per route), prefixes are parsed from bytes,
// duplicates are found in an integer set, the records go in one transaction
// through one prepared statement, and the dataplane programs them in slices
// of a few thousand per barrier.

import WeftPacket

public final class RouteService {
    let store: StateStore
    let dataplane: Dataplane
    let log: WeftLogger

    public init(store: StateStore, dataplane: Dataplane, log: WeftLogger = .shared) {
        self.store = store; self.dataplane = dataplane; self.log = log
    }

    /// "a.b.c.d/len" (0...32, no host bits) -> (address, length). Errors name `field`.
    public static func parsePrefix(_ text: String, field: String = "prefix") throws -> (address: IPv4Address, length: Int) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let length = IPv4Subnet.prefixLength(parts[1]), (0...32).contains(length) else {
            throw ControlError.invalidField(field, "\(field) \"\(text)\" is not a.b.c.d/len with len 0 to 32")
        }
        guard let address = IPv4Address(String(parts[0])) else {
            throw ControlError.invalidField(field, "\(field) \"\(text)\": \"\(parts[0])\" is not a valid IPv4 address")
        }
        let masked = IPv4Address(address.value & IPv4Subnet.mask(length))
        guard masked == address else {
            throw ControlError.invalidField(field, "\(field) \"\(text)\" has host bits set; did you mean \(masked)/\(length)?")
        }
        return (address, length)
    }

    /// A `vrf` field: nil is 0; outside `FieldRules.vrfRange` is a 400.
    public static func vrf(_ value: Int?, field: String = "vrf") throws -> Int {
        guard let value else { return 0 }
        try FieldRules.check(value, in: FieldRules.vrfRange, field: field)
        return value
    }

    /// What routes are checked against, read once per request.
    struct Context {
        struct OnLink { var name: String; var subnet: IPv4Subnet }
        /// Networks with a gateway, by VRF: their subnets hold next hops.
        var onLink: [Int: [OnLink]] = [:]
        /// Every network's subnet as (vrf, prefix) keys: not routable statically.
        var connected: Set<UInt64> = []
        /// The uplink (VRF 0): subnet, own address, record.
        var uplink: (subnet: IPv4Subnet, address: IPv4Address, record: UplinkRecord)?

        init(networks: [NetworkRecord], uplink: UplinkRecord?) {
            for n in networks {
                guard let s = try? IPv4Subnet.parse(n.subnet) else { continue }
                connected.insert(RouteService.key(vrf: n.vrf, address: s.network.value, length: s.prefixLength))
                if NetworkService.gateway(of: n) != nil { onLink[n.vrf, default: []].append(OnLink(name: n.name, subnet: s)) }
            }
            if let uplink, let u = try? UplinkService.parse(address: uplink.address, gateway: nil) {
                self.uplink = (u.subnet, u.address, uplink)
            }
        }
    }

    /// One integer per (vrf, prefix): duplicate detection without strings.
    @inline(__always)
    static func key(vrf: Int, address: UInt32, length: Int) -> UInt64 {
        UInt64(vrf) << 40 | UInt64(address) << 8 | UInt64(length)
    }

    /// A route that passed validation.
    struct Valid {
        var route: StaticRoute
        var vrf: Int
        var canonical: String
        var nextHop: String
    }

    /// Checks one parsed route against the networks of its VRF: the next
    /// hop must be a host of a subnet of a network (with a gateway) in the
    /// same VRF, other than its gateway, or, in VRF 0, of the uplink's subnet.
    func validate(prefix: UInt32, length: Int, nextHop: UInt32, vrf: Int, context: Context) throws -> Valid {
        let hop = IPv4Address(nextHop)
        let canonical = "\(IPv4.format(prefix))/\(length)"
        let inVRF = vrf == 0 ? "" : " in vrf \(vrf)"
        func valid() -> Valid {
            Valid(route: StaticRoute(prefix: prefix, length: length, nextHop: nextHop, vrf: UInt32(vrf)),
                  vrf: vrf, canonical: canonical, nextHop: hop.description)
        }
        if vrf == 0, let uplink = context.uplink {
            if length == 0, let gateway = uplink.record.gateway {
                throw ControlError(.conflict, code: "route_exists",
                                   message: "0.0.0.0/0 is the uplink's default route (via \(gateway)); change it with the uplink", field: "prefix")
            }
            if uplink.subnet.contains(hop) {
                guard hop != uplink.address, hop != uplink.subnet.network, hop != uplink.subnet.broadcast else {
                    throw ControlError.invalidField("nextHop", "nextHop \(hop) is the uplink's own, network or broadcast address (\(uplink.record.address))")
                }
                return valid()
            }
        }
        guard let onLink = context.onLink[vrf]?.first(where: { $0.subnet.contains(hop) }) else {
            throw ControlError.invalidField("nextHop", vrf == 0
                ? "nextHop \(hop) is not on a connected subnet; it must be a host in one of the networks' subnets or the uplink's"
                : "nextHop \(hop) is not on a connected subnet of vrf \(vrf); it must be a host in the subnet of a network in vrf \(vrf)")
        }
        let subnet = onLink.subnet
        guard hop != subnet.reservedGateway, hop != subnet.network, hop != subnet.broadcast else {
            throw ControlError.invalidField("nextHop", "nextHop \(hop) is the network, gateway or broadcast address of network \"\(onLink.name)\" (\(subnet))")
        }
        if context.connected.contains(Self.key(vrf: vrf, address: prefix, length: length)) {
            throw ControlError(.conflict, code: "route_is_connected",
                               message: "\(canonical) is a network's connected subnet\(inVRF)", field: "prefix")
        }
        return valid()
    }

    /// Parses and checks one route given as text fields.
    func validate(prefix: String, nextHop: String, vrf: Int, context: Context) throws -> Valid {
        let p = try Self.parsePrefix(prefix)
        guard let hop = IPv4Address(nextHop) else {
            throw ControlError.invalidField("nextHop", "nextHop \"\(nextHop)\" is not a valid IPv4 address")
        }
        return try validate(prefix: p.address.value, length: p.length, nextHop: hop.value, vrf: vrf, context: context)
    }

    /// Static routes of every VRF, or of `vrf` only.
    public func list(vrf: Int? = nil) throws -> [AddRouteRequest] {
        if let vrf { _ = try Self.vrf(vrf) }
        return try store.routes(vrf: vrf).map { AddRouteRequest(prefix: $0.prefix, nextHop: $0.nextHop, vrf: $0.vrf) }
    }

    public func add(_ request: AddRouteRequest) throws -> AddRouteRequest {
        let vrf = try Self.vrf(request.vrf)
        let context = try Context(networks: store.networks(), uplink: store.uplink())
        let v = try validate(prefix: request.prefix, nextHop: request.nextHop, vrf: vrf, context: context)
        try commit([v])
        return AddRouteRequest(prefix: v.canonical, nextHop: v.nextHop, vrf: vrf)
    }

    /// POST /v1/routes/bulk: `routes` and the lines of `text`, validated
    /// first (all or nothing), recorded and programmed together. Returns
    /// how many were added.
    public func add(bulk request: BulkRoutesRequest) throws -> Int {
        let started = ContinuousClock.now
        let defaultVRF = try Self.vrf(request.vrf)
        let firstLine = request.firstLine ?? 1
        let context = try Context(networks: store.networks(), uplink: store.uplink())
        var validated: [Valid] = []
        var seen = Set<UInt64>()
        validated.reserveCapacity((request.routes?.count ?? 0) + (request.text.map { $0.utf8.count / 24 } ?? 0))
        func accept(_ v: Valid, _ what: @autoclosure () -> String) throws {
            guard seen.insert(Self.key(vrf: v.vrf, address: v.route.prefix, length: v.route.length)).inserted else {
                throw ControlError(.conflict, code: "route_exists",
                                   message: "\(what()): \(v.canonical)\(v.vrf == 0 ? "" : " in vrf \(v.vrf)") appears twice", field: "prefix")
            }
            validated.append(v)
        }
        for (i, r) in (request.routes ?? []).enumerated() {
            do {
                let vrf = try Self.vrf(r.vrf ?? defaultVRF)
                try accept(try validate(prefix: r.prefix, nextHop: r.nextHop, vrf: vrf, context: context),
                           "route \(i + 1)")
            } catch var error as ControlError {
                if !error.message.hasPrefix("route \(i + 1)") {
                    error.message = "route \(i + 1) (\(r.prefix) via \(r.nextHop)): \(error.message)"
                }
                throw error
            }
        }
        if let text = request.text {
            try RouteText.parse(text) { line, fields in
                let n = firstLine + line
                do {
                    let prefix: (UInt32, Int), hop: UInt32
                    if let p = fields.prefix, let h = fields.nextHop {
                        (prefix, hop) = (p, h)
                    } else {
                        // Not the fast form: the slow parsers say precisely what is wrong.
                        let p = try Self.parsePrefix(fields.prefixText)
                        guard let h = IPv4Address(fields.nextHopText) else {
                            throw ControlError.invalidField("nextHop", "nextHop \"\(fields.nextHopText)\" is not a valid IPv4 address")
                        }
                        (prefix, hop) = ((p.address.value, p.length), h.value)
                    }
                    try accept(try validate(prefix: prefix.0, length: prefix.1, nextHop: hop, vrf: defaultVRF, context: context),
                               "line \(n)")
                } catch var error as ControlError {
                    if !error.message.hasPrefix("line \(n)") { error.message = "line \(n): \(error.message)" }
                    throw error
                }
            } malformed: { line, why in
                throw ControlError.invalidField("text", "line \(firstLine + line): \(why)")
            }
        }
        guard !validated.isEmpty else { throw ControlError.invalidField("routes", "the request holds no routes (give routes or text)") }
        let checked = ContinuousClock.now
        try commit(validated, started: started, checked: checked)
        return validated.count
    }

    /// Records the routes and programs them, inside one store transaction:
    /// a dataplane failure leaves no record.
    private func commit(_ validated: [Valid], started: ContinuousClock.Instant? = nil, checked: ContinuousClock.Instant? = nil) throws {
        var programmed = false
        var recorded = ContinuousClock.now, done = recorded
        do {
            try store.createRoutes(validated.map { ($0.vrf, $0.canonical, $0.nextHop) }) {
                recorded = .now
                defer { done = .now }
                do {
                    try dataplane.addRoutes(validated.map(\.route))
                } catch {
                    throw ControlError.wrap(error, code: "dataplane_error", context: "adding \(validated.count) route(s)")
                }
                programmed = true
            }
        } catch {
            if programmed {
                // The commit itself failed after the dataplane took the routes: take them out again.
                for v in validated { try? dataplane.deleteRoute(prefix: v.route.prefix, length: v.route.length, vrf: v.route.vrf) }
            }
            throw error
        }
        if validated.count <= 16 {
            for v in validated { log.info("route \(v.canonical) via \(v.nextHop)\(v.vrf == 0 ? "" : " vrf \(v.vrf)") added") }
        } else {
            func ms(_ a: ContinuousClock.Instant?, _ b: ContinuousClock.Instant) -> String {
                guard let a else { return "?" }
                let d = b - a
                return String(Int(d.components.seconds * 1000 + d.components.attoseconds / 1_000_000_000_000_000))
            }
            log.info("\(validated.count) routes added (first \(validated[0].canonical) via \(validated[0].nextHop)): "
                     + "parse+check \(ms(started, checked ?? recorded)) ms, records \(ms(checked, recorded)) ms, "
                     + "dataplane \(ms(recorded, done)) ms, commit \(ms(done, .now)) ms")
        }
    }

    public func delete(prefix text: String, vrf requested: Int? = nil) throws {
        let vrf = try Self.vrf(requested)
        let prefix = try Self.parsePrefix(text)
        let canonical = "\(prefix.address)/\(prefix.length)"
        guard try store.route(prefix: canonical, vrf: vrf) != nil else {
            throw ControlError(.notFound, code: "route_not_found",
                               message: "no static route for \(canonical)\(vrf == 0 ? "" : " in vrf \(vrf)")", field: "prefix")
        }
        do {
            try dataplane.deleteRoute(prefix: prefix.address.value, length: prefix.length, vrf: UInt32(vrf))
        } catch DataplaneError.notFound {
            // Not in the dataplane (a failed restore): the record is all there is.
        } catch {
            throw ControlError.wrap(error, code: "dataplane_error", context: "deleting route \(canonical)")
        }
        try store.deleteRoute(prefix: canonical, vrf: vrf)
        log.info("route \(canonical)\(vrf == 0 ? "" : " vrf \(vrf)") deleted")
    }

    /// Routes of `vrf` whose next hop is in `subnet` (a network being deleted).
    func routes(via subnet: IPv4Subnet, vrf: Int) throws -> [RouteRecord] {
        try store.routes(vrf: vrf).filter { IPv4Address($0.nextHop).map(subnet.contains) ?? false }
    }

    /// A canonical "a.b.c.d/len" as stored (no host bits), parsed without
    /// building substrings; nil for anything else.
    static func storedPrefix(_ text: String) -> (UInt32, Int)? {
        guard let slash = text.utf8.firstIndex(of: 0x2F) else { return nil }
        let u = text.utf8
        guard let a = IPv4.parse(text[..<slash]), let l = Int(text[u.index(after: slash)...]), (0...32).contains(l),
              a & IPv4Subnet.mask(l) == a else { return nil }
        return (a, l)
    }

    /// Programs recorded routes (the reconciler): by VRF, in batches, so a
    /// million routes do not take a million barriers. A batch the dataplane
    /// refuses is retried route by route, so one bad record does not keep
    /// the others out. Returns the prefixes programmed and the failures.
    static func restore(_ records: [StateStore.StoredRoute], dataplane: Dataplane, batch: Int = 65_536)
        -> (restored: [String], failures: [(StateStore.StoredRoute, String)]) {
        var restored: [String] = []
        var failures: [(StateStore.StoredRoute, String)] = []
        var pending: [(StateStore.StoredRoute, StaticRoute)] = []
        restored.reserveCapacity(records.count)
        func flush() {
            guard !pending.isEmpty else { return }
            do {
                try dataplane.addRoutes(pending.map(\.1))
                restored.append(contentsOf: pending.map(\.0.prefix))
            } catch {
                for (record, route) in pending {
                    do {
                        try dataplane.addRoutes([route])
                        restored.append(record.prefix)
                    } catch {
                        failures.append((record, "\(error)"))
                    }
                }
            }
            pending.removeAll(keepingCapacity: true)
        }
        for record in records {
            guard let p = storedPrefix(record.prefix), let hop = IPv4.parse(record.nextHop),
                  FieldRules.vrfRange.contains(record.vrf) else {
                failures.append((record, "unreadable record \(record.prefix) via \(record.nextHop) vrf \(record.vrf)"))
                continue
            }
            pending.append((record, StaticRoute(prefix: p.0, length: p.1, nextHop: hop, vrf: UInt32(record.vrf))))
            if pending.count >= batch { flush() }
        }
        flush()
        return (restored, failures)
    }
}

/// The text form of routes (`weftctl route load`, `POST /v1/routes/bulk`
/// `text`): one `prefix next-hop` or `prefix via next-hop` per line, `#`
/// starts a comment, blank lines are skipped. Parsed from the UTF-8 bytes.
enum RouteText {
    struct Fields {
        /// Parsed fast (strict a.b.c.d/len without host bits, a.b.c.d), or nil.
        var prefix: (UInt32, Int)?
        var nextHop: UInt32?
        var prefixText: String
        var nextHopText: String
    }

    /// Calls `route` with the 0-based line number and fields of every route
    /// line, `malformed` for a line that is neither blank nor a route.
    static func parse(_ text: String, route: (Int, Fields) throws -> Void,
                      malformed: (Int, String) throws -> Void) throws {
        var text = text
        try text.withUTF8 { bytes in
            var line = 0, start = 0
            let n = bytes.count
            while start < n {
                var end = start
                while end < n && bytes[end] != 0x0A { end += 1 }
                try parseLine(bytes, start, end, line: line, route: route, malformed: malformed)
                line += 1
                start = end + 1
            }
        }
    }

    private static func parseLine(_ b: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int, line: Int,
                                  route: (Int, Fields) throws -> Void, malformed: (Int, String) throws -> Void) throws {
        // Up to four whitespace-separated words before any '#'.
        var words: [(Int, Int)] = []
        var i = start
        while i < end {
            let c = b[i]
            if c == 0x23 { break }                                   // '#'
            if c == 0x20 || c == 0x09 || c == 0x0D { i += 1; continue }
            let w = i
            while i < end, b[i] != 0x20, b[i] != 0x09, b[i] != 0x0D, b[i] != 0x23 { i += 1 }
            words.append((w, i))
            if words.count > 3 { break }
        }
        if words.isEmpty { return }
        func text(_ w: (Int, Int)) -> String { String(decoding: UnsafeBufferPointer(rebasing: b[w.0..<w.1]), as: UTF8.self) }
        let pair: ((Int, Int), (Int, Int))
        if words.count == 2 {
            pair = (words[0], words[1])
        } else if words.count == 3, words[1].1 - words[1].0 == 3, b[words[1].0] == 0x76, b[words[1].0 + 1] == 0x69, b[words[1].0 + 2] == 0x61 {
            pair = (words[0], words[2])                              // "prefix via next-hop"
        } else {
            return try malformed(line, "expected \"prefix next-hop\" (or \"prefix via next-hop\"), got \"\(words.map(text).joined(separator: " "))\"")
        }
        var fields = Fields(prefix: nil, nextHop: nil, prefixText: "", nextHopText: "")
        if let (a, slash) = address(b, pair.0.0, pair.0.1), slash < pair.0.1, b[slash] == 0x2F,
           let len = number(b, slash + 1, pair.0.1), len <= 32, a & IPv4Subnet.mask(len) == a,
           let (h, hend) = address(b, pair.1.0, pair.1.1), hend == pair.1.1 {
            fields.prefix = (a, len)
            fields.nextHop = h
        } else {
            fields.prefixText = text(pair.0)
            fields.nextHopText = text(pair.1)
        }
        try route(line, fields)
    }

    /// Strict dotted quad at `i` (no leading zeros): the address and where it ends.
    @inline(__always)
    private static func address(_ b: UnsafeBufferPointer<UInt8>, _ i: Int, _ end: Int) -> (UInt32, Int)? {
        var value: UInt32 = 0, p = i
        for octet in 0..<4 {
            if octet > 0 {
                guard p < end, b[p] == 0x2E else { return nil }
                p += 1
            }
            let s = p
            var v: UInt32 = 0
            while p < end, b[p] >= 0x30, b[p] <= 0x39, p - s < 3 { v = v * 10 + UInt32(b[p] - 0x30); p += 1 }
            guard p > s, v <= 255, !(p - s > 1 && b[s] == 0x30) else { return nil }
            if p < end, b[p] >= 0x30, b[p] <= 0x39 { return nil }
            value = value << 8 | v
        }
        return (value, p)
    }

    /// One or two decimal digits filling [i, end).
    @inline(__always)
    private static func number(_ b: UnsafeBufferPointer<UInt8>, _ i: Int, _ end: Int) -> Int? {
        guard end > i, end - i <= 2 else { return nil }
        var v = 0
        for p in i..<end {
            guard b[p] >= 0x30, b[p] <= 0x39 else { return nil }
            v = v * 10 + Int(b[p] - 0x30)
        }
        return v
    }
}
