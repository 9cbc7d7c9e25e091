import Foundation

/// JSON encoding and decoding for the API. Output has sorted keys so it is
/// stable for diffing and tests; decoding errors become ControlErrors that
/// name the offending field.
public enum APIJSON {
    public static func encode<T: Encodable>(_ value: T) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Array(try encoder.encode(value))
    }

    /// Decodes a request body, classifying failures: not JSON (or not an
    /// object) -> invalid_json; a missing, null or wrongly typed field ->
    /// invalid_field with `field` set.
    public static func decodeRequest<T: Decodable>(_ type: T.Type, from body: [UInt8]) throws -> T {
        if body.allSatisfy({ $0 == 0x20 || $0 == 0x0a || $0 == 0x0d || $0 == 0x09 }) {
            throw ControlError(.badRequest, code: "invalid_json", message: "request body is empty; send a JSON object")
        }
        // Syntax first, so "not JSON" is never reported as a field problem.
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: Data(body), options: [.fragmentsAllowed])
        } catch {
            throw ControlError(.badRequest, code: "invalid_json",
                               message: "request body is not valid JSON: \(describeSyntaxError(error))")
        }
        guard let fields = object as? [String: Any] else {
            throw ControlError(.badRequest, code: "invalid_json", message: "request body must be a JSON object")
        }
        do {
            return try JSONDecoder().decode(T.self, from: Data(body))
        } catch let error as DecodingError {
            // Foundation reports a fraction given for an integer field as
            // corrupt data without a path; find the field ourselves.
            if case .dataCorrupted(let context) = error, context.codingPath.isEmpty,
               let field = fields.keys.sorted().first(where: { isFraction(fields[$0]) }) {
                throw ControlError.invalidField(field, "field \"\(field)\" must be an integer")
            }
            throw fieldError(error)
        }
    }

    private static func isFraction(_ value: Any?) -> Bool {
        guard let number = value as? NSNumber, !(value is Bool) else { return false }
        return number.doubleValue.rounded() != number.doubleValue || number.doubleValue.magnitude >= 9.2e18
    }

    static func fieldError(_ error: DecodingError) -> ControlError {
        func name(_ path: [CodingKey]) -> String { path.map(\.stringValue).joined(separator: ".") }
        switch error {
        case .keyNotFound(let key, let context):
            let field = name(context.codingPath + [key])
            return .invalidField(field, "missing required field \"\(field)\"")
        case .valueNotFound(let expected, let context):
            let field = name(context.codingPath)
            return .invalidField(field, "field \"\(field)\" must not be null; expected \(typeName(expected))")
        case .typeMismatch(let expected, let context):
            let field = name(context.codingPath)
            return .invalidField(field, "field \"\(field)\" must be \(typeName(expected))")
        case .dataCorrupted(let context):
            let field = name(context.codingPath)
            if field.isEmpty {
                return ControlError(.badRequest, code: "invalid_json", message: "request body is not valid JSON")
            }
            return .invalidField(field, "field \"\(field)\" has an invalid value: \(context.debugDescription)")
        @unknown default:
            return ControlError(.badRequest, code: "invalid_json", message: "request body could not be decoded: \(error)")
        }
    }

    private static func typeName(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: return "a string"
        case is Int.Type, is UInt32.Type: return "an integer"
        case is Bool.Type: return "a boolean"
        default: return "\(type)"
        }
    }

    private static func describeSyntaxError(_ error: Error) -> String {
        let nsError = error as NSError
        if let detail = nsError.userInfo[NSDebugDescriptionErrorKey] as? String { return detail }
        return nsError.localizedDescription
    }
}
