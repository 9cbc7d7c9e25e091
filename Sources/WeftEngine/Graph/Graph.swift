import CShims

/// One worker's node graph and its dispatcher (VPP's vlib_main for one thread).
///
/// Nodes hand buffers to each other with `enqueue(_:to:)`: the buffer index
/// is appended to the target node's pending frame (a vector of up to 256
/// indices). Frames become pending in FIFO order; `dispatchPending()` runs each
/// frame through its node until nothing is left. All producers of one node share
/// its open frame, so vectors stay large even when many nodes feed one.
public final class Graph {
    public static let vectorSize = 256

    public let buffers: WorkerBuffers
    public let pool: BufferPool
    public let metadata: UnsafeMutablePointer<BufferMetadata>
    public let arena: UnsafeMutableRawPointer
    public let interfaces: InterfaceTable
    public let trace: PacketTrace

    public private(set) var nodes: [GraphNode] = []
    private var nodesByName: [String: Int32] = [:]
    public private(set) var finalized = false
    public private(set) var errorDropIndex: Int32 = -1

    // Frames: frameCapacity vectors of 256 indices in one allocation.
    @usableFromInline let frameCapacity: Int
    @usableFromInline let frameData: UnsafeMutablePointer<UInt32>
    @usableFromInline let frameCount: UnsafeMutablePointer<Int32>
    @usableFromInline let frameTarget: UnsafeMutablePointer<Int32>
    @usableFromInline let freeFrames: UnsafeMutablePointer<Int32>
    @usableFromInline var freeFrameCount: Int
    // FIFO of pending frames; a frame is pending at most once, so it never overflows.
    @usableFromInline let pendingRing: UnsafeMutablePointer<Int32>
    @usableFromInline var pendingHead = 0
    @usableFromInline var pendingTail = 0
    // Per node: the frame currently open for appends, or -1.
    @usableFromInline var openFrame: UnsafeMutablePointer<Int32>

    // Per-node runtime statistics (`show runtime`).
    public private(set) var statCalls: UnsafeMutablePointer<UInt64>
    public private(set) var statVectors: UnsafeMutablePointer<UInt64>
    public private(set) var statClocks: UnsafeMutablePointer<UInt64>
    /// Bytes moved, for the nodes that move them (inputs and outputs count the
    /// frames they read or wrote, once per call), so per-byte cost is visible.
    public private(set) var statBytes: UnsafeMutablePointer<UInt64>

    /// Global error counters, indexed by `GraphNode.errorBase + code`.
    public private(set) var errorCounters: UnsafeMutablePointer<UInt64>
    public private(set) var errorNames: [(node: String, name: String, help: String)] = []
    /// Buffers dropped because no frame was free (graph overload; should stay 0).
    public private(set) var frameExhaustedDrops: UInt64 = 0

    /// Coarse clock for table ageing, in seconds; the worker loop advances it.
    public var nowSeconds: UInt32 = 0

    /// Node whose incoming vectors `capture` copies, -1 when no capture runs.
    /// Both change only under the worker barrier (`setCapture`).
    public private(set) var captureNode: Int32 = -1
    public private(set) var capture: PacketCapture?

    public init(pool: BufferPool, interfaces: InterfaceTable, frameCapacity: Int = 512, traceCapacity: Int = 4096) {
        self.pool = pool
        buffers = WorkerBuffers(pool: pool)
        metadata = pool.metadata
        arena = pool.arena
        self.interfaces = interfaces
        trace = PacketTrace(capacity: traceCapacity)
        self.frameCapacity = frameCapacity
        frameData = .allocate(capacity: frameCapacity * Graph.vectorSize)
        frameCount = .allocate(capacity: frameCapacity)
        frameCount.initialize(repeating: 0, count: frameCapacity)
        frameTarget = .allocate(capacity: frameCapacity)
        frameTarget.initialize(repeating: -1, count: frameCapacity)
        freeFrames = .allocate(capacity: frameCapacity)
        for i in 0..<frameCapacity { freeFrames[i] = Int32(frameCapacity - 1 - i) }
        freeFrameCount = frameCapacity
        pendingRing = .allocate(capacity: frameCapacity)
        openFrame = .allocate(capacity: 1)
        statCalls = .allocate(capacity: 1)
        statVectors = .allocate(capacity: 1)
        statClocks = .allocate(capacity: 1)
        statBytes = .allocate(capacity: 1)
        errorCounters = .allocate(capacity: 1)
        nowSeconds = UInt32(weft_monotonic_ns() / 1_000_000_000)
    }

    deinit {
        frameData.deallocate(); frameCount.deallocate(); frameTarget.deallocate()
        freeFrames.deallocate(); pendingRing.deallocate(); openFrame.deallocate()
        statCalls.deallocate(); statVectors.deallocate(); statClocks.deallocate(); statBytes.deallocate()
        errorCounters.deallocate()
    }

    // MARK: building

    /// Adds a node. Node names are unique; returns its index.
    @discardableResult
    public func register(_ node: GraphNode) -> Int32 {
        precondition(!finalized, "graph: register after finalize")
        precondition(nodesByName[node.name] == nil, "graph: duplicate node \(node.name)")
        let i = Int32(nodes.count)
        node.index = i
        nodes.append(node)
        nodesByName[node.name] = i
        return i
    }

    public func node(named name: String) -> GraphNode? {
        nodesByName[name].map { nodes[Int($0)] }
    }

    public func nodeIndex(named name: String) -> Int32? { nodesByName[name] }

    /// Resolves next-node names, assigns error counters and sizes the
    /// per-node tables. Throws when a next arc names an unknown node.
    public func finalize() throws {
        precondition(!finalized)
        var base: UInt32 = 0
        for node in nodes {
            node.nextIndices = try node.registration.nextNodes.map { name in
                guard let i = nodesByName[name] else {
                    throw GraphError.unknownNextNode(node: node.name, next: name)
                }
                return i
            }
            node.errorBase = base
            for e in node.registration.errors { errorNames.append((node.name, e.name, e.help)) }
            base += UInt32(node.registration.errors.count)
        }
        let n = nodes.count
        openFrame.deallocate(); openFrame = .allocate(capacity: n); openFrame.initialize(repeating: -1, count: n)
        for p in [statCalls, statVectors, statClocks, statBytes] { p.deallocate() }
        statCalls = .allocate(capacity: n); statCalls.initialize(repeating: 0, count: n)
        statVectors = .allocate(capacity: n); statVectors.initialize(repeating: 0, count: n)
        statClocks = .allocate(capacity: n); statClocks.initialize(repeating: 0, count: n)
        statBytes = .allocate(capacity: n); statBytes.initialize(repeating: 0, count: n)
        errorCounters.deallocate()
        errorCounters = .allocate(capacity: max(1, Int(base)))
        errorCounters.initialize(repeating: 0, count: max(1, Int(base)))
        errorDropIndex = nodesByName["error-drop"] ?? -1
        finalized = true
        for node in nodes { node.didResolve(self) }
    }

    // MARK: per packet

    @inlinable @inline(__always)
    public func data(_ bi: UInt32) -> UnsafeMutableRawPointer {
        arena + (Int(bi) &<< BufferPool.bufferShift)
    }

    /// Pointer to the first valid byte of buffer `bi`.
    @inlinable @inline(__always)
    public func current(_ bi: UInt32) -> UnsafeMutableRawPointer {
        arena + ((Int(bi) &<< BufferPool.bufferShift) &+ Int(metadata[Int(bi)].dataOffset))
    }

    /// Appends buffer `bi` to node `target`'s pending vector.
    @inlinable @inline(__always)
    public func enqueue(_ bi: UInt32, to target: Int32) {
        var f = Int(openFrame[Int(target)])
        if _slowPath(f < 0 || frameCount[f] == Int32(Graph.vectorSize)) {
            f = openNewFrame(for: target)
            if f < 0 { dropFrameExhausted(bi); return }
        }
        let n = Int(frameCount[f])
        frameData[f &* Graph.vectorSize &+ n] = bi
        frameCount[f] = Int32(n &+ 1)
    }

    /// Counts `bi` under error counter `error` and sends it to error-drop.
    @inlinable @inline(__always)
    public func drop(_ bi: UInt32, error: UInt32) {
        metadata[Int(bi)].error = error
        enqueue(bi, to: errorDropIndex)
    }

    /// Adds `n` to a counter without dropping (informational counters).
    @inlinable @inline(__always)
    public func count(_ error: UInt32, _ n: UInt64 = 1) {
        errorCounters[Int(error)] &+= n
    }

    /// Copies buffer `bi` (metadata and valid bytes; a whole chain when `bi`
    /// heads one) into new buffers. Returns `BufferPool.invalid` when the pool
    /// cannot give them all (nothing is taken then).
    @inlinable
    public func clone(_ bi: UInt32) -> UInt32 {
        if _slowPath(metadata[Int(bi)].isChained) { return cloneChain(bi) }
        let c = buffers.alloc()
        if c == BufferPool.invalid { return c }
        metadata[Int(c)] = metadata[Int(bi)]
        let off = Int(metadata[Int(bi)].dataOffset)
        (data(c) + off).copyMemory(from: data(bi) + off, byteCount: Int(metadata[Int(bi)].length))
        return c
    }

    @usableFromInline @inline(never)
    func cloneChain(_ head: UInt32) -> UInt32 {
        let n = BufferChain.count(head, metadata: metadata)
        guard n <= BufferChain.maxBuffers else { return BufferPool.invalid }
        return withUnsafeTemporaryAllocation(of: UInt32.self, capacity: BufferChain.maxBuffers) { copies in
            guard BufferChain.take(n, into: copies.baseAddress!, buffers: buffers) else { return BufferPool.invalid }
            var bi = head
            for i in 0..<n {
                let c = copies[i]
                metadata[Int(c)] = metadata[Int(bi)]
                let off = Int(metadata[Int(bi)].dataOffset)
                (data(c) + off).copyMemory(from: data(bi) + off, byteCount: Int(metadata[Int(bi)].length))
                bi = metadata[Int(bi)].nextBuffer
                metadata[Int(c)].nextBuffer = i &+ 1 < n ? copies[i &+ 1] : BufferPool.invalid
            }
            return copies[0]
        }
    }

    @usableFromInline
    func openNewFrame(for target: Int32) -> Int {
        guard freeFrameCount > 0 else { return -1 }
        freeFrameCount -= 1
        let f = Int(freeFrames[freeFrameCount])
        frameCount[f] = 0
        frameTarget[f] = target
        openFrame[Int(target)] = Int32(f)
        pendingRing[pendingTail] = Int32(f)
        pendingTail = pendingTail + 1 == frameCapacity ? 0 : pendingTail + 1
        return f
    }

    @usableFromInline
    func dropFrameExhausted(_ bi: UInt32) {
        frameExhaustedDrops &+= 1
        buffers.free(bi)
    }

    // MARK: dispatch

    /// Runs every pending frame (and the frames they produce) to completion.
    public func dispatchPending() {
        while pendingHead != pendingTail {
            let f = Int(pendingRing[pendingHead])
            pendingHead = pendingHead + 1 == frameCapacity ? 0 : pendingHead + 1
            let target = Int(frameTarget[f])
            if openFrame[target] == Int32(f) { openFrame[target] = -1 }
            let n = Int(frameCount[f])
            if n > 0 {
                let node = nodes[target]
                if _slowPath(Int32(truncatingIfNeeded: target) == captureNode) {
                    capture.unsafelyUnwrapped.record(self, frameData + f * Graph.vectorSize, n)
                }
                let t0 = weft_rdtsc()
                node.process(self, frameData + f * Graph.vectorSize, n)
                statClocks[target] &+= weft_rdtsc() &- t0
                statCalls[target] &+= 1
                statVectors[target] &+= UInt64(n)
            }
            freeFrames[freeFrameCount] = Int32(f)
            freeFrameCount += 1
        }
    }

    /// Starts (or, with nil, ends) copying the vectors entering `node` into
    /// `capture`. Call with the worker parked or not running.
    public func setCapture(_ capture: PacketCapture?, node: Int32) {
        self.capture = capture
        captureNode = capture == nil ? -1 : node
    }

    /// Polls input node `node` once and records its runtime statistics.
    @discardableResult
    public func poll(_ node: GraphNode) -> Int {
        let t0 = weft_rdtsc()
        let n = node.poll(self)
        if n > 0 {
            let i = Int(node.index)
            statClocks[i] &+= weft_rdtsc() &- t0
            statCalls[i] &+= 1
            statVectors[i] &+= UInt64(n)
        }
        return n
    }

    /// Frames in use (open or pending); 0 when the graph is idle.
    public var framesInUse: Int { frameCapacity - freeFrameCount }

    public func clearRuntimeStats() {
        statCalls.update(repeating: 0, count: nodes.count)
        statVectors.update(repeating: 0, count: nodes.count)
        statClocks.update(repeating: 0, count: nodes.count)
        statBytes.update(repeating: 0, count: nodes.count)
    }

    /// Adds `n` bytes to node `node`'s runtime statistics (`statBytes`).
    @inlinable @inline(__always)
    public func countBytes(_ node: Int32, _ n: Int) {
        statBytes[Int(node)] &+= UInt64(truncatingIfNeeded: n)
    }

    public func errorCount(node: String, error: String) -> UInt64 {
        guard let i = errorNames.firstIndex(where: { $0.node == node && $0.name == error }) else { return 0 }
        return errorCounters[i]
    }
}

public enum GraphError: Error, CustomStringConvertible, Equatable {
    case unknownNextNode(node: String, next: String)
    public var description: String {
        switch self {
        case .unknownNextNode(let node, let next): return "node \(node): next node \(next) is not registered"
        }
    }
}
