// Packet capture into a pcap file (POST/GET/DELETE /v1/captures): checks
// the request, then hands it to the dataplane. One capture at a time; an
// operator tool, so nothing is stored and a restart ends it. Control thread only.

import Foundation
import WeftIO

public final class CaptureService {
    let dataplane: Dataplane
    let log: WeftLogger

    public static let directions = ["rx", "tx", "drop"]
    public static let countRange = 0...1_000_000_000
    public static let snaplenRange = 1...PcapWriter.maxSnaplen

    public init(dataplane: Dataplane, log: WeftLogger = .shared) {
        self.dataplane = dataplane; self.log = log
    }

    public func start(_ request: CreateCaptureRequest) throws -> CaptureStatus {
        if request.interface != nil && request.node != nil {
            throw ControlError.invalidField("node", "give either interface (with direction rx, tx or drop) or node, not both")
        }
        if let d = request.direction, !Self.directions.contains(d) {
            throw ControlError.invalidField("direction", "direction \"\(d)\" is not one of rx, tx, drop")
        }
        if request.node != nil && request.direction != nil {
            throw ControlError.invalidField("direction", "direction applies to an interface; a node capture takes every packet entering the node")
        }
        if request.interface == nil && request.node == nil && request.direction != "drop" {
            throw ControlError.invalidField("interface", "say what to capture: interface (with direction rx, tx or drop), node, or direction drop alone")
        }
        try Self.checkOutputFile(request.file)
        if let count = request.count { try FieldRules.check(count, in: Self.countRange, field: "count", why: "0 captures until stopped") }
        if let snaplen = request.snaplen { try FieldRules.check(snaplen, in: Self.snaplenRange, field: "snaplen") }
        if let filter = request.filter {
            do { try PcapWriter.validate(filter: filter) } catch {
                throw ControlError(.badRequest, code: "invalid_filter", message: "\(error)", field: "filter")
            }
        }
        do {
            let status = try dataplane.startCapture(request)
            log.info("capture of \(status.node ?? "?") \(status.interface.map { "\($0) \(status.direction ?? "")" } ?? "") into \(request.file) started")
            return status
        } catch DataplaneError.notFound(let message) {
            let field = request.node != nil ? "node" : "interface"
            throw ControlError(.notFound, code: "\(field)_not_found", message: message, field: field)
        } catch DataplaneError.conflict(let message) {
            throw ControlError(.conflict, code: "capture_running", message: message)
        } catch DataplaneError.invalid(let message) {
            throw ControlError(.badRequest, code: "invalid_capture", message: message, field: "file")
        } catch {
            throw ControlError.wrap(error, code: "dataplane_error", context: "starting a capture")
        }
    }

    public func status() -> CaptureStatus { dataplane.captureStatus() }

    public func stop() throws -> CaptureStatus {
        do {
            let status = try dataplane.stopCapture()
            log.info("capture into \(status.file ?? "?") stopped: \(status.written) written, \(status.overrun) overrun")
            return status
        } catch DataplaneError.notFound(let message) {
            throw ControlError(.notFound, code: "no_capture", message: message)
        } catch {
            throw ControlError.wrap(error, code: "dataplane_error", context: "stopping the capture")
        }
    }

    /// An absolute path in an existing directory, not a directory itself.
    static func checkOutputFile(_ path: String) throws {
        guard path.hasPrefix("/"), !path.contains("\0"), path.utf8.count <= 4096 else {
            throw ControlError.invalidField("file", "file \"\(path)\" must be an absolute path (weftd writes it, from its own working directory)")
        }
        let directory = (path as NSString).deletingLastPathComponent
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw ControlError.invalidField("file", "directory \(directory) of file \(path) does not exist; create it first")
        }
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
            throw ControlError.invalidField("file", "\(path) is a directory; give a file name")
        }
    }
}
