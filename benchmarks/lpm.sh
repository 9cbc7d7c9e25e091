#!/usr/bin/env bash
# IPv4 longest-prefix-match lookup benchmark: Weft's FIBs (WeftIP4 FIBTable, DIR-24-8, and
# FIBRangeTable, DXR: weft-bench lpm --algorithm dxr) against DPDK's rte_fib (DIR-24-8) and
# rte_lpm, on the SAME route and address files, in the same run.
#
#   1. dpdk-test-fib -w/-u writes a route file ('a.b.c.d/len nexthop') and an address file;
#   2. each case below runs dpdk-test-fib -f routes -t ips -c (AVG FIB lookup = rte_fib,
#      AVG LPM lookup = rte_lpm, cycles per lookup in bursts of 64) and weft-bench lpm on the
#      same files (vectors of 64 like dpdk-test-fib, and of 256 like the Weft graph; and 256 with
#      the first level on transparent huge pages, FIBTable(hugePages: true); and the DXR table with
#      vectors of 64 and 256), RUNS times each,
#      interleaved, every process pinned to CPU with taskset. dpdk-test-fib runs with --no-huge
#      (as in shared/PEERS.md), i.e. on 4 KiB pages like the plain Weft columns;
#   3. prints a markdown table of the medians, and one of memory (lookup tables and control side,
#      by the tables' own accounting), build time and update rate of both Weft tables.
#
# Address cases:
#   ascending  the address file as written: address i lies in route i mod N, so the list walks
#              the address space in order (what dpdk-test-fib measures when it generates them);
#   shuffled   the same addresses in a fixed random order (every lookup a cache/TLB miss);
#   raw-file   what dpdk-test-fib 22.11 actually looks up when handed the file with -t: it stores
#              inet_pton's network-order bytes and uses them as a host-order word, i.e. every
#              address with its octets reversed (85% misses, scattered). Weft gets the same 32-bit
#              values with --dpdk-byte-order. This is the "30-36 cycles with the address file"
#              case of shared/PEERS.md; for the other two cases dpdk-test-fib is handed a copy of
#              the file with the octets reversed so that it looks up the intended addresses.
# Check: unless --no-check, a small C program (compiled here against libdpdk) builds an rte_fib
# from the route file and writes its next hop for every address; weft-bench lpm --verify
# --expect compares Weft's bulk lookups with it (and with its scalar and reference lookups),
# for both Weft tables.
#
# Usage: benchmarks/lpm.sh [-n ROUTES] [-l LOOKUPS] [-d DISTRIBUTION] [-g TBL8] [-r RUNS]
#                          [-c CPU] [-k DXR_DIRECT_BITS] [--cases "ascending shuffled raw-file"]
#                          [--no-check] [-o FILE.md]
#   --cases  address cases to run (default all three; rte_lpm's build takes minutes at 1M routes,
#            so a 1M run may leave raw-file out). The tables show the cases that ran.
set -euo pipefail

ROUTES=100000
LOOKUPS=1000000
DIST="16:10%,24:80%,32:10%"
TBL8=100000
RUNS=3
CPU=1
CHECK=1
OUT=""
DXR_BITS=""
CASES="ascending shuffled raw-file"
REPO=$(cd "$(dirname "$0")/.." && pwd)
WEFT_BIN=${WEFT_BIN:-$REPO/.build/release}

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit "${1:-0}"; }
while (($#)); do
  case $1 in
    -n|--routes) ROUTES=$2; shift 2 ;;
    -l|--lookups) LOOKUPS=$2; shift 2 ;;
    -d|--distribution) DIST=$2; shift 2 ;;
    -g|--tbl8) TBL8=$2; shift 2 ;;
    -r|--runs) RUNS=$2; shift 2 ;;
    -c|--cpu) CPU=$2; shift 2 ;;
    -k|--direct-bits) DXR_BITS=$2; shift 2 ;;
    --cases) CASES=${2//,/ }; shift 2 ;;
    --no-check) CHECK=0; shift ;;
    -o|--out) OUT=$2; shift 2 ;;
    -h|--help) usage 0 ;;
    *) echo "lpm: unknown argument $1" >&2; usage 1 ;;
  esac
done
for t in dpdk-test-fib taskset python3 shuf; do
  command -v "$t" >/dev/null || { echo "lpm: $t missing (apt-get install dpdk-dev coreutils python3)" >&2; exit 1; }
done
[[ -x $WEFT_BIN/weft-bench ]] || { echo "lpm: $WEFT_BIN/weft-bench missing (swift build -c release)" >&2; exit 1; }

TMP=$(mktemp -d /tmp/weft-lpm-XXXXXX)
trap 'rm -rf "$TMP"' EXIT
# Own EAL file prefix: no clash with another DPDK process (e.g. e2e.sh's testpmd).
EAL=(--no-huge -m 4096 --no-pci -l "$CPU" --file-prefix "weftlpm$$" --log-level=error)
log() { printf '[lpm %s] %s\n' "$(date +%T)" "$*" >&2; }
revoctets() { awk -F. '{print $4"."$3"."$2"."$1}' "$1" >"$2"; }

log "generating $ROUTES routes ($DIST) and $LOOKUPS addresses with dpdk-test-fib"
(cd "$TMP" && dpdk-test-fib "${EAL[@]}" -- -n "$ROUTES" -l "$LOOKUPS" -d "$DIST" -g "$TBL8" -w routes -u ips >gen.log 2>&1) ||
  { cat "$TMP/gen.log" >&2; exit 1; }
shuf --random-source=<(yes weft) "$TMP/ips" >"$TMP/ips.shuf"
revoctets "$TMP/ips" "$TMP/ips.dpdk"
revoctets "$TMP/ips.shuf" "$TMP/ips.shuf.dpdk"

ROWS=$TMP/rows.tsv   # case <TAB> who <TAB> value   (value = cycles/lookup; build rows: cycles/route)
: >"$ROWS"
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)

run_dpdk() {   # case dpdk-address-file
  local out
  out=$(taskset -c "$CPU" dpdk-test-fib "${EAL[@]}" -- -f "$TMP/routes" -t "$2" -g "$TBL8" -c 2>&1) ||
    { echo "$out" >&2; echo "lpm: dpdk-test-fib failed" >&2; exit 1; }
  grep -q "FIB and LPM lookup returns same values" <<<"$out" || { echo "$out" >&2; echo "lpm: rte_fib and rte_lpm disagree" >&2; exit 1; }
  awk -v c="$1" '/AVG FIB lookup/ {print c"\trte_fib\t"$4} /AVG LPM lookup/ {print c"\trte_lpm\t"$4}
                 /AVG FIB add/ {f+=$4; nf++} /AVG LPM add/ {l+=$4; nl++}
                 END {print c"\tbuild-rte_fib\t"f/nf; print c"\tbuild-rte_lpm\t"l/nl}' <<<"$out" >>"$ROWS"
}

DXR_ARGS=(--algorithm dxr ${DXR_BITS:+--direct-bits "$DXR_BITS"})

run_weft() {   # case address-file vector [extra args]
  local c=$1 f=$2 v=$3; shift 3
  taskset -c "$CPU" "$WEFT_BIN/weft-bench" lpm --routes "$TMP/routes" --addresses "$f" --groups "$TBL8" \
      --order file --runs 5 --vector "$v" --cpu=-1 --json "$@" >"$TMP/w.json"
  python3 - "$c" "$v" "$TMP/w.json" >>"$ROWS" <<'PY'
import json, sys
c, v, r = sys.argv[1], sys.argv[2], json.load(open(sys.argv[3]))
dxr = r.get('algorithm') == 'dxr'
a = "dxr" if dxr else "weft"          # row-name prefix: weft-* = DIR-24-8 (as before), dxr-* = DXR
if r['hugePages']: v += "-thp"
print(f"{c}\t{a}-{v}\t{r['results'][0]['cyclesPerLookup']}")
print(f"{c}\t{a}-{v}-pass\t{r['results'][0]['passCyclesPerLookup']}")
print(f"{c}\tbuild-{a}\t{r['buildCyclesPerRoute']}")
print(f"{c}\tallocs-{a}\t{r['results'][0]['allocationsPerLookup']}")
print(f"{c}\thits-{a}\t{r['hitRatio']}")
print(f"{c}\tlookupmem-{a}\t{r['lookupBytes']}")
print(f"{c}\tcontrolmem-{a}\t{r['controlBytes']}")
print(f"{c}\tstoremem-{a}\t{r['prefixStoreBytes']}")
print(f"{c}\tresident-{a}\t{r['residentLookupBytes']}")
print(f"{c}\tupdates-{a}\t{r['updatesPerSecond']}")
print(f"{c}\tbuildms-{a}\t{r['buildSeconds'] * 1e3}")
if dxr: print(f"{c}\tdxrbits\t{r['directBits']}")
PY
}

has_case() { [[ " $CASES " == *" $1 "* ]]; }
for run in $(seq 1 "$RUNS"); do
  log "run $run/$RUNS"
  if has_case ascending; then
    run_dpdk ascending "$TMP/ips.dpdk"
    run_weft ascending "$TMP/ips" 64; run_weft ascending "$TMP/ips" 256; run_weft ascending "$TMP/ips" 256 --huge-pages
    run_weft ascending "$TMP/ips" 64 "${DXR_ARGS[@]}"; run_weft ascending "$TMP/ips" 256 "${DXR_ARGS[@]}"
  fi
  if has_case shuffled; then
    run_dpdk shuffled "$TMP/ips.shuf.dpdk"
    run_weft shuffled "$TMP/ips.shuf" 64; run_weft shuffled "$TMP/ips.shuf" 256; run_weft shuffled "$TMP/ips.shuf" 256 --huge-pages
    run_weft shuffled "$TMP/ips.shuf" 64 "${DXR_ARGS[@]}"; run_weft shuffled "$TMP/ips.shuf" 256 "${DXR_ARGS[@]}"
  fi
  if has_case raw-file; then
    run_dpdk raw-file "$TMP/ips"
    run_weft raw-file "$TMP/ips" 64 --dpdk-byte-order; run_weft raw-file "$TMP/ips" 256 --dpdk-byte-order
    run_weft raw-file "$TMP/ips" 256 --dpdk-byte-order --huge-pages
    run_weft raw-file "$TMP/ips" 64 --dpdk-byte-order "${DXR_ARGS[@]}"; run_weft raw-file "$TMP/ips" 256 --dpdk-byte-order "${DXR_ARGS[@]}"
  fi
done
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

CHECKLINE="not run (--no-check)"
if ((CHECK)); then
  if command -v cc >/dev/null && pkg-config --exists libdpdk 2>/dev/null; then
    log "checking Weft's results against rte_fib's"
    cat >"$TMP/fibcheck.c" <<'C'
/* Builds an rte_fib (DIR-24-8) from a dpdk-test-fib route file and prints its next hop for
 * every address of an address file (read in host byte order), '-' for no route. */
#include <arpa/inet.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_fib.h>
#define MISS (1ULL << 30)
int main(int argc, char **argv) {
	int e = rte_eal_init(argc, argv);
	if (e < 0) return 2;
	argc -= e; argv += e;
	if (argc != 5) { fprintf(stderr, "usage: fibcheck [EAL] -- routes ips tbl8 out\n"); return 2; }
	FILE *fr = fopen(argv[1], "r"), *fi = fopen(argv[2], "r"), *fo = fopen(argv[4], "w");
	if (!fr || !fi || !fo) { perror("fopen"); return 2; }
	char line[256], a[64];
	int n = 0, len;
	uint64_t nh;
	while (fgets(line, sizeof line, fr)) n++;
	rewind(fr);
	struct rte_fib_conf conf = {0};
	conf.type = RTE_FIB_DIR24_8;
	conf.default_nh = MISS;
	conf.max_routes = 2 * n;
	conf.dir24_8.nh_sz = RTE_FIB_DIR24_8_4B;
	conf.dir24_8.num_tbl8 = (uint32_t)atoi(argv[3]);
	struct rte_fib *fib = rte_fib_create("weftcheck", -1, &conf);
	if (!fib) { fprintf(stderr, "rte_fib_create: %d\n", rte_errno); return 2; }
	while (fgets(line, sizeof line, fr)) {
		struct in_addr in;
		if (sscanf(line, "%63[^/]/%d %" SCNu64, a, &len, &nh) != 3 || inet_pton(AF_INET, a, &in) != 1) return 2;
		if (rte_fib_add(fib, ntohl(in.s_addr), (uint8_t)len, nh) != 0) { fprintf(stderr, "add %s", line); return 2; }
	}
	uint32_t ips[64]; uint64_t out[64];
	int k = 0;
	for (;;) {
		int more = fgets(line, sizeof line, fi) != NULL;
		if (more) {
			struct in_addr in;
			if (sscanf(line, "%63s", a) != 1 || inet_pton(AF_INET, a, &in) != 1) return 2;
			ips[k++] = ntohl(in.s_addr);
		}
		if (k == 64 || (!more && k > 0)) {
			rte_fib_lookup_bulk(fib, ips, out, k);
			for (int i = 0; i < k; i++) {
				if (out[i] == MISS) fputs("-\n", fo); else fprintf(fo, "%" PRIu64 "\n", out[i]);
			}
			k = 0;
		}
		if (!more) break;
	}
	fclose(fo);
	rte_fib_free(fib);
	return 0;
}
C
    # shellcheck disable=SC2046
    cc -O2 -o "$TMP/fibcheck" "$TMP/fibcheck.c" $(pkg-config --cflags --libs libdpdk)
    "$TMP/fibcheck" "${EAL[@]}" -- "$TMP/routes" "$TMP/ips" "$TBL8" "$TMP/expected" >"$TMP/check.log" 2>&1 ||
      { cat "$TMP/check.log" >&2; echo "lpm: fibcheck failed" >&2; exit 1; }
    if "$WEFT_BIN/weft-bench" lpm --routes "$TMP/routes" --addresses "$TMP/ips" --groups "$TBL8" --order file --runs 1 \
         --cpu=-1 --verify --expect "$TMP/expected" >"$TMP/verify.log" 2>&1 &&
       "$WEFT_BIN/weft-bench" lpm --routes "$TMP/routes" --addresses "$TMP/ips" --order file --runs 1 \
         --cpu=-1 --verify --expect "$TMP/expected" "${DXR_ARGS[@]}" >"$TMP/verify-dxr.log" 2>&1; then
      CHECKLINE="OK: for all $LOOKUPS addresses, for both Weft tables (DIR-24-8 and DXR, each after its timed updates), Weft's bulk lookup = its scalar lookup = its prefix-store reference = rte_fib's next hop"
    else
      cat "$TMP/verify.log" "$TMP/verify-dxr.log" >&2 2>/dev/null || true
      CHECKLINE="FAILED (see above)"
    fi
  else
    CHECKLINE="skipped: cc or libdpdk (pkg-config) missing"
  fi
fi

python3 - "$ROWS" "$ROUTES" "$LOOKUPS" "$DIST" "$TBL8" "$RUNS" "$CPU" "$LOAD_BEFORE" "$LOAD_AFTER" "$CHECKLINE" "$CASES" <<'PY' | tee ${OUT:+"$OUT"}
import sys, statistics
rows, routes, lookups, dist, tbl8, runs, cpu, lb, la, check, cases = sys.argv[1:12]
cases = [c for c in ["ascending", "shuffled", "raw-file"] if c in cases.split()]
vals = {}
for line in open(rows):
    c, who, v = line.rstrip("\n").split("\t")
    vals.setdefault((c, who), []).append(float(v))
def med(c, w): return statistics.median(vals[(c, w)])
def rng(c, w): return f"{min(vals[(c, w)]):.1f}-{max(vals[(c, w)]):.1f}"
print(f"### IPv4 LPM lookup: {int(routes):,} routes ({dist}), {int(lookups):,} addresses, cycles per lookup")
print()
print(f"dpdk-test-fib (DPDK 22.11, bursts of 64, --no-huge) and weft-bench lpm on the same files, "
      f"{runs} runs each (weft: median of 5 passes per run), medians (min-max), taskset -c {cpu}; tbl8 groups {tbl8}; "
      f"THP = Weft's first level with MADV_HUGEPAGE. Load average before {lb}, after {la}.")
print()
print("Per-burst columns time each bulk call with a full fence + rdtsc on both sides and sum, exactly like "
      "dpdk-test-fib (rte_rdtsc_precise around each rte_*_lookup_bulk of 64); the ratios compare those. "
      "'whole pass' columns time a complete pass over the list with one rdtsc pair (no fences: vectors overlap, "
      "loop included), the throughput a node would see.")
print()
bits = int(vals[(cases[0], "dxrbits")][0])
print(f"weft = DIR-24-8 (FIBTable); dxr = DXR (FIBRangeTable, K={bits}: direct table on the top {bits} bits, "
      f"a search of the chunk's range block: SWAR count up to 16 ranges, fixed binary-search steps above).")
print()
print("| addresses | hit ratio | rte_fib | rte_lpm | weft 64 | weft 256 | weft 256, whole pass | weft 256 THP, whole pass | weft 64 / rte_fib | weft 64 / rte_lpm "
      "| weft dxr 64 | weft dxr 256 | weft dxr 256, whole pass | dxr 64 / rte_lpm |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
for c in cases:
    f, l, w64 = med(c, "rte_fib"), med(c, "rte_lpm"), med(c, "weft-64")
    cell = lambda w: f"{med(c, w):.1f} ({rng(c, w)})"
    print(f"| {c} | {100 * med(c, 'hits-weft'):.1f}% | {cell('rte_fib')} | {cell('rte_lpm')} "
          f"| {cell('weft-64')} | {cell('weft-256')} | {cell('weft-256-pass')} | {cell('weft-256-thp-pass')} | {w64 / f:.2f} | {w64 / l:.2f} "
          f"| {cell('dxr-64')} | {cell('dxr-256')} | {cell('dxr-256-pass')} | {med(c, 'dxr-64') / l:.2f} |")
print()
allocs = max(max(v) for (c, w), v in vals.items() if w in ("allocs-weft", "allocs-dxr"))
c0 = cases[0]
build_fib = f"rte_fib {med(c0, 'build-rte_fib'):.0f}, rte_lpm {med(c0, 'build-rte_lpm'):.0f}, "
print(f"Build (cycles per route added, file order): {build_fib}weft {med(c0, 'build-weft'):.0f}, "
      f"weft dxr {med(c0, 'build-dxr'):.0f}. Weft allocations per lookup (both tables): {allocs:g}.")
print()
mib = lambda b: f"{b / 1048576:.2f} MiB"
print("| Weft table | lookup memory | resident (mincore) | control memory (of which prefix store) | build | updates/s |")
print("|---|---|---|---|---|---|")
for a, name in [("weft", "DIR-24-8"), ("dxr", f"DXR K={bits}")]:
    print(f"| {name} | {mib(med(c0, 'lookupmem-' + a))} | {mib(med(c0, 'resident-' + a))} "
          f"| {mib(med(c0, 'controlmem-' + a))} ({mib(med(c0, 'storemem-' + a))}) "
          f"| {med(c0, 'buildms-' + a):.0f} ms | {med(c0, 'updates-' + a) / 1e6:.2f} M |")
print()
print("Memory by the tables' own accounting, after the build (DXR: and FIBRangeTable.compact()). Lookup: DIR-24-8 = "
      "64 MiB first level + 1 KiB per tbl8 group in use; DXR = direct table + range pool. Control: DIR-24-8 = resident "
      "depth shadows + prefix store; DXR = per-chunk route lists + per-chunk arrays + free lists + prefix store (the "
      "prefix store's dictionaries are estimated from their capacities). Updates: weft-bench lpm --updates 100000 "
      "(100,000 deletes of random routes of the file, each followed by its re-add: 200,000 updates, timed after the "
      "build); medians over the runs of the first case.")
print()
print(f"Results check: {check}.")
PY
