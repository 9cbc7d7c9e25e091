#!/usr/bin/env bash
# Builds the libFuzzer targets (Fuzz/, docs/fuzzing.md) with
# -sanitize=fuzzer,address into .build-fuzz and runs each for a bounded time.
#
#   scripts/fuzz.sh [target ...]          build + run (default: all targets)
#   scripts/fuzz.sh --build-only [target ...]
#   scripts/fuzz.sh --no-build [target ...]   run what .build-fuzz holds
#   FUZZ_SECONDS=60                       seconds per target (make fuzz)
#   FUZZ_JOBS=1                           libFuzzer -fork=N (0: one process)
#   FUZZ_ARGS="-max_len=4096"             extra libFuzzer flags
#
# Each run fuzzes a scratch corpus (.build-fuzz/corpus/<target>, seeded from
# Fuzz/corpus/<target>) so the repository's seeds stay small; crashes land in
# .build-fuzz/crashes/<target>/. Prints one line per target: executions,
# exec/s, cov/ft from libFuzzer's last status line, and the crash count.
set -uo pipefail
cd "$(dirname "$0")/.."

ALL_TARGETS=(packet api cni pcap)
FUZZ_SECONDS=${FUZZ_SECONDS:-60}
FUZZ_JOBS=${FUZZ_JOBS:-0}
FUZZ_ARGS=${FUZZ_ARGS:-}
BUILD=.build-fuzz
LOCK=${WEFT_BUILD_LOCK:-/tmp/weft-build.lock}

build_only=0 no_build=0
if [[ ${1:-} == --build-only ]]; then build_only=1; shift; fi
if [[ ${1:-} == --no-build ]]; then no_build=1; shift; fi
targets=("$@")
[[ ${#targets[@]} -eq 0 ]] && targets=("${ALL_TARGETS[@]}")

for t in "${targets[@]}"; do
    [[ $no_build -eq 1 ]] && break
    # WEFT_FUZZ=1 declares the fuzz targets in Package.swift; every module is
    # built with coverage instrumentation and AddressSanitizer, in debug
    # (assertions and preconditions on) and apart from .build.
    WEFT_FUZZ=1 flock "$LOCK" swift build --build-path "$BUILD" -c debug \
        -Xswiftc -sanitize=fuzzer,address --product "weft-fuzz-$t" 2>&1 \
        | grep -v "Cannot export local symbol" | tail -3
    if [[ ${PIPESTATUS[0]} -ne 0 ]]; then echo "fuzz: build of weft-fuzz-$t failed" >&2; exit 1; fi
done
[[ $build_only -eq 1 ]] && exit 0

bin=$(WEFT_FUZZ=1 swift build --build-path "$BUILD" -c debug -Xswiftc -sanitize=fuzzer,address --show-bin-path)
# Swift runtime metadata allocations are reported by LeakSanitizer; buffer
# leaks are what the targets check themselves.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0}
status=0
printf '%-8s %12s %10s %8s %8s %8s  %s\n' target executions "exec/s" cov ft crashes log
for t in "${targets[@]}"; do
    corpus=$BUILD/corpus/$t crashes=$BUILD/crashes/$t log=$BUILD/fuzz-$t.log
    mkdir -p "$corpus" "$crashes"
    cp -n Fuzz/corpus/"$t"/* "$corpus"/ 2>/dev/null || true
    dict=()
    [[ -f Fuzz/dict/$t.dict ]] && dict=(-dict="Fuzz/dict/$t.dict")
    fork=()
    [[ $FUZZ_JOBS -gt 0 ]] && fork=(-fork="$FUZZ_JOBS" -ignore_crashes=1)
    before=$(ls "$crashes" | wc -l)
    # shellcheck disable=SC2086
    "$bin/weft-fuzz-$t" "$corpus" "${dict[@]}" "${fork[@]}" -max_total_time="$FUZZ_SECONDS" \
        -artifact_prefix="$crashes/" -print_final_stats=1 $FUZZ_ARGS >"$log" 2>&1
    rc=$?
    found=$(( $(ls "$crashes" | wc -l) - before ))
    [[ $rc -ne 0 || $found -gt 0 ]] && status=1
    # Last status line: "#N  DONE  cov: C ft: F corp: ... exec/s: E ..."
    last=$(grep -E '^#[0-9]+' "$log" | tail -1)
    execs=$(grep -m1 -oE 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$')
    [[ -z $execs ]] && execs=$(sed -E 's/^#([0-9]+).*/\1/' <<<"$last")
    rate=$(grep -m1 -oE 'stat::average_exec_per_sec: *[0-9]+' "$log" | grep -oE '[0-9]+$')
    [[ -z $rate ]] && rate=$(grep -oE 'exec/s: [0-9]+' <<<"$last" | grep -oE '[0-9]+')
    cov=$(grep -oE 'cov: [0-9]+' <<<"$last" | grep -oE '[0-9]+')
    ft=$(grep -oE 'ft: [0-9]+' <<<"$last" | grep -oE '[0-9]+')
    printf '%-8s %12s %10s %8s %8s %8s  %s\n' "$t" "${execs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" "$found" "$log"
done
exit $status
