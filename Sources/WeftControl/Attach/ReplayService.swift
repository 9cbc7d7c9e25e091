// Replay of capture files into a network (POST/GET/DELETE /v1/replays):
// each replay is an rx-only interface of the network's bridge domain fed by
// pcap-input. An operator tool: nothing is stored and a restart ends it.
// Control thread only.

import Foundation

public final class ReplayService {
    let store: StateStore
    let dataplane: Dataplane
    let log: WeftLogger

    public static let countRange = 0...1_000_000_000
    /// Packets per second; 0 = as fast as the worker goes.
    public static let rateRange = 0...100_000_000

    public init(store: StateStore, dataplane: Dataplane, log: WeftLogger = .shared) {
        self.store = store; self.dataplane = dataplane; self.log = log
    }

    public func list() -> [ReplayInfo] { dataplane.replays() }

    public func create(_ request: CreateReplayRequest) throws -> ReplayInfo {
        try Self.checkName(request.name)
        guard request.file.hasPrefix("/"), !request.file.contains("\0") else {
            throw ControlError.invalidField("file", "file \"\(request.file)\" must be an absolute path (weftd reads it)")
        }
        guard access(request.file, R_OK) == 0 else {
            let reason = String(cString: strerror(errno))
            throw ControlError.invalidField("file", "cannot read \(request.file): \(reason)")
        }
        let count = request.count ?? 1
        try FieldRules.check(count, in: Self.countRange, field: "count", why: "passes through the file; 0 loops until deleted")
        let rate = request.rate ?? 0
        try FieldRules.check(rate, in: Self.rateRange, field: "rate", why: "packets per second; 0 = full speed")
        try FieldRules.networkName(request.network, field: "network")
        guard let network = try store.network(named: request.network) else {
            throw ControlError(.notFound, code: "network_not_found",
                               message: "network \"\(request.network)\" does not exist; create it first", field: "network")
        }
        do {
            let info = try dataplane.addReplay(name: request.name, file: request.file, network: network.name,
                                               bridgeDomain: UInt32(network.bridgeDomain), mtu: network.mtu, count: count, rate: rate)
            log.info("replay \(request.name): \(info.packets) packets of \(request.file) into network \(network.name), count \(count), rate \(rate)")
            return info
        } catch DataplaneError.invalid(let message) {
            throw ControlError(.badRequest, code: "invalid_capture_file", message: message, field: "file")
        } catch DataplaneError.conflict(let message) {
            throw ControlError(.conflict, code: "replay_conflict", message: message, field: "name")
        } catch {
            throw ControlError.wrap(error, code: "dataplane_error", context: "replay \(request.name)")
        }
    }

    public func delete(name: String) throws {
        do {
            try dataplane.removeReplay(name: name)
            log.info("replay \(name) deleted")
        } catch DataplaneError.notFound(let message) {
            throw ControlError(.notFound, code: "replay_not_found", message: message)
        } catch {
            throw ControlError.wrap(error, code: "dataplane_error", context: "deleting replay \(name)")
        }
    }

    /// Same alphabet as network names: the name ends up in an interface name.
    static func checkName(_ name: String) throws {
        let chars = Array(name.utf8)
        let ok = !chars.isEmpty && chars.count <= 32 && chars.allSatisfy {
            ($0 >= UInt8(ascii: "a") && $0 <= UInt8(ascii: "z")) || ($0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9")) || $0 == UInt8(ascii: "-")
        } && chars[0] != UInt8(ascii: "-")
        if !ok {
            throw ControlError.invalidField("name", "replay name \"\(name)\" is invalid; use 1-32 characters of a-z, 0-9 and '-', starting with a letter or digit")
        }
    }
}
