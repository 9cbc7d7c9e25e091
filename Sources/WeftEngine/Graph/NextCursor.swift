/// A node's fast path to one next node, held for the length of one vector:
/// appends go straight into the target's open frame and the frame's count is
/// written back once, at `Graph.close(_:)`. Opening is lazy, so a cursor
/// whose next node receives nothing costs nothing.
///
/// While a cursor to node T is open, the node must not also `enqueue` to T.
@frozen
public struct NextCursor {
    public let target: Int32
    @usableFromInline var frame: Int
    @usableFromInline var slots: UnsafeMutablePointer<UInt32>?
    @usableFromInline var count: Int

    @inlinable
    public init(to target: Int32) {
        self.target = target
        frame = -1
        slots = nil
        count = Graph.vectorSize
    }
}

extension Graph {
    /// Appends `bi` to the cursor's frame, opening a new frame when full.
    @inlinable @inline(__always)
    public func put(_ bi: UInt32, _ c: inout NextCursor) {
        if _slowPath(c.count == Graph.vectorSize) {
            reopen(&c)
            if c.frame < 0 { dropFrameExhausted(bi); return }
        }
        c.slots.unsafelyUnwrapped[c.count] = bi
        c.count &+= 1
    }

    /// Writes the cursor's count back to its frame (end of the vector loop).
    @inlinable @inline(__always)
    public func close(_ c: inout NextCursor) {
        if c.frame >= 0 { frameCount[c.frame] = Int32(c.count) }
        c.frame = -1
        c.count = Graph.vectorSize
    }

    @usableFromInline
    func reopen(_ c: inout NextCursor) {
        if c.frame >= 0 { frameCount[c.frame] = Int32(c.count) }
        var f = Int(openFrame[Int(c.target)])
        if f < 0 || frameCount[f] == Int32(Graph.vectorSize) { f = openNewFrame(for: c.target) }
        c.frame = f
        if f < 0 { c.count = Graph.vectorSize; return }
        c.slots = frameData + f &* Graph.vectorSize
        c.count = Int(frameCount[f])
    }
}
