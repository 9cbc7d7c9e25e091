// The libFuzzer entry points shared by the fuzz targets (docs/fuzzing.md).
//
// SwiftPM links an executable target with its `main` renamed to
// `<target>_main`, so each target's main.swift calls `runFuzzer`, which hands
// control to libFuzzer's own driver (LLVMFuzzerRunDriver) with the target's
// body. LLVMFuzzerTestOneInput is defined too because -sanitize=fuzzer links
// libFuzzer's main object, which refers to it; it runs the same body.
#if canImport(Glibc)
import Glibc
#endif

@_silgen_name("LLVMFuzzerRunDriver")
private func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
    _ callback: @convention(c) (UnsafeRawPointer?, Int) -> CInt) -> CInt

nonisolated(unsafe) private var fuzzBody: ((UnsafeRawBufferPointer) -> Void)?

@_cdecl("LLVMFuzzerTestOneInput")
public func weftFuzzTestOneInput(_ data: UnsafeRawPointer?, _ size: Int) -> CInt {
    fuzzBody?(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}

/// Runs libFuzzer with `body` as the test function; the arguments are libFuzzer's
/// (corpus directories, -max_total_time=N, -dict=FILE, ...). Never returns.
public func runFuzzer(_ body: @escaping (UnsafeRawBufferPointer) -> Void) -> Never {
    fuzzBody = body
    var argc = CommandLine.argc
    var argv = CommandLine.unsafeArgv
    exit(LLVMFuzzerRunDriver(&argc, &argv, weftFuzzTestOneInput))
}

/// A leak or broken invariant found by a fuzz target: abort so libFuzzer
/// saves the input as a crash.
public func fuzzCheck(_ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String) {
    if !condition() {
        fputs("weft-fuzz: invariant broken: \(message())\n", stderr)
        abort()
    }
}
