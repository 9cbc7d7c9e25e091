/// Base class of every node. Subclasses are `final` and override `process`
/// (internal nodes) or `poll` (input nodes). The call is virtual once per
/// vector; everything per packet inside is static and inlined.
open class GraphNode {
    public let registration: NodeRegistration
    /// Index in the graph; valid after `Graph.finalize()`.
    public internal(set) var index: Int32 = -1
    /// First global error-counter index of this node's errors.
    public internal(set) var errorBase: UInt32 = 0
    /// Global node index of each next arc, in registration order.
    public internal(set) var nextIndices: [Int32] = []

    public init(registration: NodeRegistration) {
        self.registration = registration
    }

    public var name: String { registration.name }

    /// Global index of the node behind next arc `next`.
    public func nextIndex<N: NodeNext>(_ next: N) -> Int32 {
        let i = N.allCases.distance(from: N.allCases.startIndex, to: N.allCases.firstIndex(of: next)!)
        return nextIndices[i]
    }

    /// Global error-counter index of `error`.
    public func errorIndex<E: NodeError>(_ error: E) -> UInt32 {
        let i = E.allCases.distance(from: E.allCases.startIndex, to: E.allCases.firstIndex(of: error)!)
        return errorBase + UInt32(i)
    }

    /// Called once after next arcs and error indices are known: cache them in
    /// stored properties so the vector loop reads plain integers.
    open func didResolve(_ graph: Graph) {}

    /// Processes one vector of buffer indices. Every buffer must be enqueued to
    /// a next node, handed to a device, or dropped through error-drop.
    open func process(_ graph: Graph, _ vector: UnsafeMutablePointer<UInt32>, _ count: Int) {
        fatalError("\(name): process not implemented")
    }

    /// Input nodes: receive up to one vector; returns the number of packets.
    open func poll(_ graph: Graph) -> Int { 0 }

    /// File descriptors to wait on when the worker is idle (input nodes).
    open var pollDescriptors: [Int32] { [] }

    /// Renders one trace record this node wrote.
    open func formatTrace(_ record: TraceRecord) -> String { name }
}
