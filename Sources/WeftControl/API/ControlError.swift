// The error vocabulary of the control plane. Services and the store throw
// these; the API turns them into `{"error":{"code","message","field"}}` with
// the matching HTTP status, and weftctl prints the message. Codes are stable
// snake_case identifiers that clients may match on; messages say what to fix.

public struct ControlError: Error, Equatable, CustomStringConvertible, Sendable {
    public enum Kind: Sendable, Equatable {
        case badRequest        // 400
        case notFound          // 404
        case methodNotAllowed  // 405
        case conflict          // 409
        case payloadTooLarge   // 413
        case headersTooLarge   // 431
        case `internal`        // 500
        case unavailable       // 503: out of a resource (file descriptors); retry later
    }

    public var kind: Kind
    public var code: String
    public var message: String
    public var field: String?

    public init(_ kind: Kind, code: String, message: String, field: String? = nil) {
        self.kind = kind; self.code = code; self.message = message; self.field = field
    }

    public var description: String { message }

    public var httpStatus: Int {
        switch kind {
        case .badRequest: return 400
        case .notFound: return 404
        case .methodNotAllowed: return 405
        case .conflict: return 409
        case .payloadTooLarge: return 413
        case .headersTooLarge: return 431
        case .internal: return 500
        case .unavailable: return 503
        }
    }

    public static func invalidField(_ field: String, _ message: String) -> ControlError {
        ControlError(.badRequest, code: "invalid_field", message: message, field: field)
    }

    /// Engine errors keep their message; the kind picks the status.
    public static func from(_ error: DataplaneError, context: String) -> ControlError {
        switch error {
        case .notFound(let m): return ControlError(.notFound, code: "dataplane_not_found", message: "\(context): \(m)")
        case .conflict(let m): return ControlError(.conflict, code: "dataplane_conflict", message: "\(context): \(m)")
        case .invalid(let m): return ControlError(.badRequest, code: "dataplane_invalid", message: "\(context): \(m)")
        case .system(let m): return ControlError(.internal, code: "dataplane_error", message: "\(context): \(m)")
        }
    }

    /// Wraps any error from a lower layer, passing ControlErrors through.
    public static func wrap(_ error: Error, code: String, context: String) -> ControlError {
        if let control = error as? ControlError { return control }
        if let dataplane = error as? DataplaneError { return from(dataplane, context: context) }
        return ControlError(.internal, code: code, message: "\(context): \(error)")
    }
}
