/// A node's next arcs, declared as data: each case's raw value is the name of
/// the node it leads to. The graph resolves names to indices once, at build time.
public protocol NodeNext: CaseIterable, Equatable, RawRepresentable where RawValue == String, AllCases: RandomAccessCollection {}

/// A node's error counters, declared as data: each case becomes the counter
/// `/err/<node>/<rawValue>` with `help` as its description.
public protocol NodeError: CaseIterable, Equatable, RawRepresentable where RawValue == String, AllCases: RandomAccessCollection {
    var help: String { get }
}

public enum NodeKind: Sendable {
    /// Polled by the worker loop; produces vectors from a device or generator.
    case input
    /// Runs when a vector is pending for it.
    case `internal`
}

public struct NodeRegistration: Sendable {
    public var name: String
    public var kind: NodeKind
    public var nextNodes: [String]
    public var errors: [(name: String, help: String)]

    public init<N: NodeNext, E: NodeError>(name: String, kind: NodeKind = .internal, next: N.Type, errors: E.Type) {
        self.name = name
        self.kind = kind
        nextNodes = N.allCases.map(\.rawValue)
        self.errors = E.allCases.map { ($0.rawValue, $0.help) }
    }
}

/// For nodes with no next arcs (outputs, error-drop).
public enum NoNext: String, NodeNext { case none = "" ; public static var allCases: [NoNext] { [] } }
/// For nodes with no error counters.
public enum NoError: String, NodeError { case none = ""; public static var allCases: [NoError] { [] }; public var help: String { "" } }
