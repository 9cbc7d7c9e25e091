import XCTest
@testable import WeftIO

final class AfPacketConfigTests: XCTestCase {
    /// V3 only batches with large blocks: useV3 must switch the geometry, not just the version.
    func testUseV3SwitchesGeometry() {
        var c = AfPacketConfig()
        XCTAssertEqual(c.ringVersion, 2)
        c.useV3()
        XCTAssertEqual(c.ringVersion, 3)
        XCTAssertEqual(c.rxBlockSize, 1 << 17)
        XCTAssertEqual(c.rxBlockCount, 32)
    }
}
