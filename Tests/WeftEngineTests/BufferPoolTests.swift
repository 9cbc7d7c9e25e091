import XCTest
@testable import WeftEngine

final class BufferPoolTests: XCTestCase {
    func testMetadataIsOneCacheLine() {
        XCTAssertEqual(MemoryLayout<BufferMetadata>.stride, 64)
        XCTAssertGreaterThanOrEqual(BufferPool.headroom, 128)
        XCTAssertEqual(BufferPool.bufferSize, 1 << BufferPool.bufferShift)
    }

    func testAllocFreeRoundTripKeepsEveryBuffer() {
        let pool = BufferPool(count: 3000)
        let cache = WorkerBuffers(pool: pool, capacity: 256)
        var got = Set<UInt32>()
        for _ in 0..<3000 {
            let bi = cache.alloc()
            XCTAssertNotEqual(bi, BufferPool.invalid)
            XCTAssertTrue(got.insert(bi).inserted, "buffer \(bi) handed out twice")
        }
        XCTAssertEqual(got.count, 3000)
        XCTAssertTrue(got.allSatisfy { $0 < 3000 })
        for bi in got { cache.free(bi) }
        cache.drain()
        XCTAssertEqual(pool.sharedFree, 3000, "all buffers back after drain")
    }

    func testExhaustionIsCountedNotFatal() {
        let pool = BufferPool(count: 64)
        let cache = WorkerBuffers(pool: pool, capacity: 32)
        var held: [UInt32] = []
        for _ in 0..<64 { held.append(cache.alloc()) }
        XCTAssertEqual(cache.alloc(), BufferPool.invalid)
        XCTAssertEqual(cache.alloc(), BufferPool.invalid)
        XCTAssertEqual(cache.allocFailures, 2)
        for bi in held { cache.free(bi) }
        XCTAssertNotEqual(cache.alloc(), BufferPool.invalid, "allocation works again after frees")
    }

    func testTwoWorkerCachesShareOnePool() {
        let pool = BufferPool(count: 1024)
        let a = WorkerBuffers(pool: pool, capacity: 128)
        let b = WorkerBuffers(pool: pool, capacity: 128)
        var fromA: [UInt32] = []
        for _ in 0..<600 { fromA.append(a.alloc()) }
        var fromB: [UInt32] = []
        while true { let bi = b.alloc(); if bi == BufferPool.invalid { break }; fromB.append(bi) }
        XCTAssertEqual(fromA.count + fromB.count + a.cachedCount, 1024)
        XCTAssertTrue(Set(fromA).isDisjoint(with: Set(fromB)))
        // Buffers freed on one worker are usable by the other.
        for bi in fromA { b.free(bi) }
        b.drain(); a.drain()
        for bi in fromB { a.free(bi) }
        a.drain()
        XCTAssertEqual(pool.sharedFree, 1024)
    }

    func testBufferDataIsInsideTheArena() {
        let pool = BufferPool(count: 16)
        let p = pool.data(15)
        XCTAssertEqual(p - pool.arena, 15 * BufferPool.bufferSize)
        p.storeBytes(of: 0xAB, toByteOffset: BufferPool.bufferSize - 1, as: UInt8.self)
    }
}
