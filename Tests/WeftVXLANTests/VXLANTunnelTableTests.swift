import XCTest
import WeftTestSupport
import WeftEngine
import WeftPacket
@testable import WeftVXLAN

final class VXLANTunnelTableTests: XCTestCase {
    func testTemplateChecksumWithZeroLength() {
        let t = VXLANTunnelTable()
        t.install(interface: 5, local: Pkt.ip("192.0.2.1"), remote: Pkt.ip("192.0.2.2"), vni: 42, port: 4789, fibIndex: 0)
        let bytes = Array(UnsafeRawBufferPointer(start: t.template + 5 * VXLANTunnelTable.templateStride, count: 36))
        XCTAssertEqual(Pkt.checksum(bytes[0..<20]), 0)
        XCTAssertEqual(Array(bytes[0..<2]), [0x45, 0])
        XCTAssertEqual(bytes[8], 64)
        XCTAssertEqual(bytes[9], 17)
        XCTAssertEqual(Array(bytes[22..<24]), [0x12, 0xB5])
        XCTAssertEqual(Array(bytes[28..<36]), [0x08, 0, 0, 0, 0, 0, 42, 0])
        XCTAssertEqual(t.lookup(remote: Pkt.ip("192.0.2.2"), vni: 42, port: 4789), 5)
        t.remove(interface: 5)
        XCTAssertEqual(t.decapCount, 0)
        XCTAssertEqual(t.vniPortCount, 0)
    }
}
