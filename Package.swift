// swift-tools-version:6.0
import Foundation
import PackageDescription

// `scripts/sanitize.sh thread` sets WEFT_DYNAMIC_STDLIB: TSan's runtime cannot run a
// statically linked Swift runtime (it stops in its own allocator, exit 66).
let staticStdlib = ProcessInfo.processInfo.environment["WEFT_DYNAMIC_STDLIB"] == nil

// Engine targets trade runtime exclusivity checks for speed: the per-packet
// path touches buffer metadata through unsafe pointers only, so the checks
// would guard nothing and cost a call per access.
let engineSwift: [SwiftSetting] = [
    .unsafeFlags(["-enforce-exclusivity=unchecked"]),
]

let package = Package(
    name: "Weft",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "weftd", targets: ["weftd"]),
        .executable(name: "weftctl", targets: ["weftctl"]),
        .executable(name: "weft-bench", targets: ["weft-bench"]),
        .executable(name: "weft-cni", targets: ["weft-cni"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        // weft-bench latency: percentiles of one-way latency.
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
    ],
    targets: [
        // C glue: rdtsc, prefetch, TPACKET_V3 ring layout, CPU pinning.
        .target(name: "CShims", path: "CShims/Engine"),
        // Netlink (libnl-route-3) and setns: veth pairs, addresses, routes.
        .target(
            name: "CNetlink", path: "CShims/Netlink",
            cSettings: [.unsafeFlags(["-I/usr/include/libnl3"])],
            linkerSettings: [.linkedLibrary("nl-3"), .linkedLibrary("nl-route-3")]),
        // libpcap: pcap-input replays capture files, `weftctl capture` writes them.
        .target(name: "CPcap", path: "CShims/Pcap", linkerSettings: [.linkedLibrary("pcap")]),
        // AF_XDP through libxdp/libbpf: UMEM = the buffer arena, xsk sockets, the XDP redirect program.
        .target(name: "CXDP", path: "CShims/XDP", linkerSettings: [.linkedLibrary("xdp"), .linkedLibrary("bpf")]),
        // malloc/free interposer that counts calls; linked into weft-bench only.
        .target(name: "CMallocCounter", path: "CShims/MallocCounter"),

        .target(name: "WeftEngine", dependencies: ["CShims"], swiftSettings: engineSwift),
        .target(name: "WeftPacket", dependencies: ["WeftEngine"], swiftSettings: engineSwift),
        .target(name: "WeftL2", dependencies: ["WeftEngine", "WeftPacket", "CShims"], swiftSettings: engineSwift),
        .target(name: "WeftIO", dependencies: ["WeftEngine", "WeftPacket", "CShims", "CPcap", "CXDP"], swiftSettings: engineSwift),
        .target(name: "WeftIP4", dependencies: ["WeftEngine", "WeftPacket"], swiftSettings: engineSwift),
        .target(name: "WeftNAT", dependencies: ["WeftEngine", "WeftPacket", "WeftIP4"], swiftSettings: engineSwift),
        .target(name: "WeftVXLAN", dependencies: ["WeftEngine", "WeftPacket", "WeftL2", "WeftIP4"], swiftSettings: engineSwift),
        // weftd's API types and a blocking unix-socket HTTP client: stdlib + libc only.
        .target(name: "WeftClient"),
        .target(
            name: "WeftControl",
            dependencies: [
                "WeftClient", "WeftEngine", "WeftPacket", "WeftL2", "WeftIO", "WeftIP4", "WeftVXLAN", "WeftNAT", "CNetlink",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Yams", package: "Yams"),
            ]),

        .executableTarget(
            name: "weftd",
            dependencies: ["WeftControl", "WeftIP4", .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        .executableTarget(
            name: "weftctl",
            dependencies: ["WeftControl", .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        // CNI 1.1.0 plugin logic (library, so it can be unit-tested) and the binary.
        .target(name: "WeftCNI", dependencies: ["WeftClient"]),
        // Statically linked Swift runtime: a runtime execs the plugin for every pod, and
        // loading a dozen Swift shared libraries cost more than the work itself (VERSION:
        // 7.5 ms dynamic, 2.9 ms static). -static-stdlib alone misses Foundation's
        // internal archives on Swift 6.3 Linux, hence the explicit ones.
        .executableTarget(name: "weft-cni", dependencies: ["WeftCNI"],
                          linkerSettings: staticStdlib
                              ? [.unsafeFlags(["-static-stdlib", "-Xlinker", "-l_FoundationCollections", "-Xlinker", "-l_FoundationCShims", "-Xlinker", "-lswiftSynchronization"])]
                              : []),
        .executableTarget(
            name: "weft-bench",
            dependencies: [
                "WeftEngine", "WeftPacket", "WeftL2", "WeftIO", "WeftIP4", "CMallocCounter",
                "WeftNAT",
                "WeftVXLAN",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ],
            swiftSettings: engineSwift),

        // Packet builders (independent checksums) and EmbeddedGraph helpers shared by the node tests.
        .target(name: "WeftTestSupport", dependencies: ["WeftIO", "WeftEngine"], path: "Tests/WeftTestSupport"),
        .testTarget(name: "WeftEngineTests", dependencies: ["WeftEngine"]),
        .testTarget(name: "WeftPacketTests", dependencies: ["WeftPacket", "WeftEngine", "WeftTestSupport"]),
        .testTarget(name: "WeftL2Tests", dependencies: ["WeftTestSupport", "WeftL2", "WeftPacket", "WeftEngine", "WeftIO"]),
        .testTarget(name: "WeftControlTests", dependencies: ["WeftControl"]),
        .testTarget(name: "WeftCNITests", dependencies: ["WeftCNI"]),
        .testTarget(name: "WeftIP4Tests", dependencies: ["WeftTestSupport", "WeftIP4", "WeftL2", "WeftPacket", "WeftEngine", "WeftIO"]),
        .testTarget(name: "WeftNATTests", dependencies: ["WeftTestSupport", "WeftNAT", "WeftIP4", "WeftL2", "WeftPacket", "WeftEngine", "WeftIO"]),
        .testTarget(name: "WeftIOTests", dependencies: ["WeftTestSupport", "WeftIO", "WeftL2", "WeftIP4", "WeftPacket", "WeftEngine"]),
        .testTarget(name: "WeftVXLANTests", dependencies: ["WeftTestSupport", "WeftVXLAN", "WeftL2", "WeftIP4", "WeftPacket", "WeftEngine", "WeftIO"]),
    ],
    swiftLanguageModes: [.v5]
)

// libFuzzer targets (docs/fuzzing.md): declared only when WEFT_FUZZ is set, so the
// normal build neither compiles nor links them. scripts/fuzz.sh builds them with
// WEFT_FUZZ=1 and -sanitize=fuzzer,address into .build-fuzz.
if Context.environment["WEFT_FUZZ"] != nil {
    package.targets += [
        .target(name: "WeftFuzzDriver", path: "Fuzz/Driver"),
        .executableTarget(name: "weft-fuzz-packet",
                          dependencies: ["WeftFuzzDriver", "WeftEngine", "WeftPacket", "WeftL2", "WeftIO", "WeftIP4", "WeftVXLAN", "WeftNAT"],
                          path: "Fuzz/packet", swiftSettings: engineSwift),
        .executableTarget(name: "weft-fuzz-api", dependencies: ["WeftFuzzDriver", "WeftControl"], path: "Fuzz/api"),
        .executableTarget(name: "weft-fuzz-cni", dependencies: ["WeftFuzzDriver", "WeftCNI"], path: "Fuzz/cni"),
        .executableTarget(name: "weft-fuzz-pcap", dependencies: ["WeftFuzzDriver", "WeftIO", "WeftEngine"], path: "Fuzz/pcap"),
    ]
}
