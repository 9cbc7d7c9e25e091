import CShims
import XCTest
@testable import WeftEngine
#if canImport(Glibc)
import Glibc
#endif

/// The idle worker's sleep (`weft_poll_readable`) must watch every port's fd:
/// it once watched only the first 64, so with more ports the worker slept
/// through their traffic and through barrier wake-ups.
final class PollReadableTests: XCTestCase {
    private func readableAmong(_ count: Int, ready index: Int) throws -> Int32 {
        let fds = (0..<count).map { _ in weft_wake_fd() }
        defer { fds.forEach { _ = close($0) } }
        XCTAssertFalse(fds.contains { $0 < 0 }, "eventfd")
        weft_wake(fds[index])
        // A generous timeout: a missed fd shows as 0 (timed out), not as a slow pass.
        return fds.withUnsafeBufferPointer { weft_poll_readable($0.baseAddress, Int32($0.count), 5_000) }
    }

    func testTheLastOfManyDescriptorsWakes() throws {
        XCTAssertEqual(try readableAmong(100, ready: 99), 1)   // on the stack array
        XCTAssertEqual(try readableAmong(300, ready: 299), 1)  // past it, on the heap
    }

    /// A descriptor that reports only an error/hang-up (here a TCP socket never
    /// connected: POLLHUP; in weftd a port whose device vanished) must not end the
    /// idle wait at once, or the worker spins; the wake fd (first) still ends it.
    func testErrorOnlyDescriptorsDoNotEndTheWait() {
        let wake = weft_wake_fd()
        let hungUp = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { _ = close(wake); _ = close(hungUp) }
        var fds = [wake, hungUp]
        var hup = pollfd(fd: hungUp, events: Int16(POLLIN), revents: 0)
        XCTAssertEqual(poll(&hup, 1, 0), 1, "precondition: the socket reports POLLHUP at once")
        let start = weft_monotonic_ns()
        XCTAssertEqual(weft_poll_readable(&fds, 2, 50), 0)
        XCTAssertGreaterThanOrEqual(weft_monotonic_ns() - start, 40_000_000, "returned early: the worker would spin")
        weft_wake(wake)
        XCTAssertEqual(weft_poll_readable(&fds, 2, 5_000), 1)
    }

    func testTimeoutAndBadDescriptor() {
        let fd = weft_wake_fd()
        defer { _ = close(fd) }
        var fds = [fd]
        XCTAssertEqual(weft_poll_readable(&fds, 1, 1), 0)
        fds = [-1]  // poll ignores negative fds: a timeout, not an error
        XCTAssertEqual(weft_poll_readable(&fds, 1, 1), 0)
    }
}
