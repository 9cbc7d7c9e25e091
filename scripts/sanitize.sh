#!/usr/bin/env bash
# make test-asan / make test-tsan: every target built with AddressSanitizer or ThreadSanitizer
# (SwiftPM --sanitize: Swift and C alike) in its own scratch path, then the Swift unit tests and
# the integration tests (Tests/integration, real weftd in namespaces, configuration changes under
# traffic) run against those binaries. A sanitizer report fails the run: the unit tests abort on
# the first ASan error, and the integration fixtures fail a test whose weftd log holds a report
# (conftest.py), TSan included (it keeps running after a report, so all of them are seen).
#
# Usage: scripts/sanitize.sh address|thread [pytest args...]
set -euo pipefail
cd "$(dirname "$0")/.."

kind=${1:?usage: scripts/sanitize.sh address|thread [pytest args...]}
shift
skip=()
case "$kind" in
  address)
    dir=.build-asan
    # Leak checking is off: Swift's runtime metadata and NIO's global singletons are never
    # freed on purpose and would drown real reports.
    export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:halt_on_error=1:abort_on_error=0}
    ;;
  thread)
    dir=.build-tsan
    export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=0:second_deadlock_stack=1}
    # Single-threaded table tests with millions of random operations (FIB differential tests,
    # the MAC table against a reference): nothing for TSan to find, and 50x slower under it
    # (the first run spent 15 minutes in them). ASan runs them.
    skip=(--skip FIBTableTests --skip FIBRangeTableTests --skip MacTableTests)
    # weft-cni links the Swift runtime statically for start-up speed; TSan's runtime stops
    # inside its own allocator with it (exit 66), so this build links it dynamically (Package.swift).
    export WEFT_DYNAMIC_STDLIB=1
    ;;
  *) echo "sanitize.sh: unknown sanitizer '$kind' (address or thread)" >&2; exit 2 ;;
esac

scripts/install-deps.sh
flags=(-c release -Xswiftc -enable-testing --sanitize="$kind" --scratch-path "$dir")
swift build "${flags[@]}" --build-tests
swift test "${flags[@]}" --skip-build "${skip[@]}"
WEFT_BIN="$PWD/$dir/release" WEFT_SANITIZER="$kind" python3 -m pytest -v Tests/integration "$@"
