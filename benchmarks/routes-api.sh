#!/usr/bin/env bash
# Routes through the API: `weftctl route load FILE` with 100k and 1M routes, end to end
# (weftctl reads the file, sends it as text in POST /v1/routes/bulk, weftd validates, records
# in SQLite in one transaction and programs the FIB in slices under the barrier).
#
# For each size a fresh weftd runs in its own node namespace (weft-rtb-node-<random>) with
# one network (10.61.0.0/24) whose hosts are the next hops. Reported per size: wall time of
# `weftctl route load`, routes/s, the size of the request body, weftd's RSS before and after
# (VmRSS, and the peak VmHWM), the time of `show fib ADDRESS` for a few prefixes, and the time
# weftd needs after kill -9 to answer again with every route restored. Routes: distinct random
# prefixes (seed 1) with the prefix-length mix 16:5% 24:85% 32:10% outside 10/8, 127/8 and
# 224/3, next hops 10.61.0.10-25. Everything it created is removed on exit (EXIT trap).
#
# Usage: benchmarks/routes-api.sh [-n 100000,1000000] [-o RESULTS_DIR] [--no-save]
set -euo pipefail

SIZES="100000,1000000"
SAVE=1
REPO=$(cd "$(dirname "$0")/.." && pwd)
RESULTS=$REPO/benchmarks/results
WEFT_BIN=${WEFT_BIN:-$REPO/.build/release}

usage() { sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }
while (($#)); do
  case $1 in
    -n|--sizes) SIZES=$2; shift 2 ;;
    -o|--out) RESULTS=$2; shift 2 ;;
    --no-save) SAVE=0; shift ;;
    -h|--help) usage 0 ;;
    *) echo "routes-api: unknown argument $1" >&2; usage 1 ;;
  esac
done
[[ $(id -u) -eq 0 ]] || { echo "routes-api: needs root" >&2; exit 1; }
for f in "$WEFT_BIN/weftd" "$WEFT_BIN/weftctl"; do
  [[ -x $f ]] || { echo "routes-api: $f missing (make build)" >&2; exit 1; }
done

SUFFIX=$(head -c3 /dev/urandom | od -An -tx1 | tr -d ' \n')
NS=weft-rtb-node-$SUFFIX
TMP=$(mktemp -d /tmp/weft-rtb-XXXXXX)
OUT=$TMP/report.md
WEFTD_PID=""
cleanup() {
  if [[ -n $WEFTD_PID ]]; then kill -9 "$WEFTD_PID" 2>/dev/null || true; fi
  if ip netns list | awk '{print $1}' | grep -qx "$NS"; then
    for pid in $(ip netns pids "$NS" 2>/dev/null); do kill -9 "$pid" 2>/dev/null || true; done
    ip netns del "$NS" 2>/dev/null || true
  fi
  rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

log() { echo "[routes-api $(date +%H:%M:%S)] $*" >&2; }
ctl() { "$WEFT_BIN/weftctl" --socket "$TMP/weft.sock" "$@"; }
now() { date +%s.%N; }
rss_kib() { awk -v k="$2" '$1 == k":" {print $2}' "/proc/$1/status"; }

start_weftd() {
  ip netns exec "$NS" "$WEFT_BIN/weftd" --socket "$TMP/weft.sock" --state "$TMP/state.db" \
    >>"$TMP/weftd.log" 2>&1 </dev/null &
  WEFTD_PID=$!
  local t0; t0=$(now)
  until ctl show interfaces >/dev/null 2>&1; do
    kill -0 "$WEFTD_PID" 2>/dev/null || { tail -20 "$TMP/weftd.log" >&2; echo "routes-api: weftd died" >&2; exit 1; }
    if (( $(echo "$(now) - $t0 > 600" | bc) )); then echo "routes-api: weftd did not come up" >&2; exit 1; fi
    sleep 0.05
  done
}

gen_routes() {  # gen_routes N FILE -> writes FILE, prints three "address prefix" probes
  python3 - "$1" "$2" <<'PY'
import random, sys
n, path = int(sys.argv[1]), sys.argv[2]
rnd = random.Random(1)
mix = [(16, 0.05), (24, 0.85), (32, 0.10)]
counts = {l: int(n * f) for l, f in mix}
counts[24] += n - sum(counts.values())
def ok(a):
    top = a >> 24
    return top not in (0, 10, 127) and top < 224
seen = set()
out = []
for length, count in counts.items():
    got = 0
    while got < count:
        a = rnd.getrandbits(32) & (0xFFFFFFFF << (32 - length)) & 0xFFFFFFFF
        if not ok(a) or (a, length) in seen:
            continue
        seen.add((a, length))
        out.append((a, length))
        got += 1
rnd.shuffle(out)
def fmt(a):
    return f"{a >> 24}.{a >> 16 & 255}.{a >> 8 & 255}.{a & 255}"
with open(path, "w") as f:
    for i, (a, l) in enumerate(out):
        f.write(f"{fmt(a)}/{l} 10.61.0.{10 + i % 16}\n")
for a, l in (out[0], out[len(out) // 2], out[-1]):
    print(f"{fmt(a + (1 if l < 32 else 0))} {fmt(a)}/{l}")
PY
}

body_bytes() {  # the JSON body weftctl sends for FILE (text form, one request)
  python3 -c 'import json,sys; t=open(sys.argv[1]).read(); print(len(json.dumps({"firstLine":1,"text":t}, separators=(",",":")).encode()))' "$1"
}

ip netns add "$NS"
ip -n "$NS" link set lo up
{
  echo "# Routes through the API: weftctl route load"
  echo
  echo "\`benchmarks/routes-api.sh -n $SIZES\` on $(hostname), $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$REPO" diff --quiet 2>/dev/null || echo ' + uncommitted changes')."
  echo "$(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), load average before: $(cut -d' ' -f1-3 /proc/loadavg)."
  echo "Routes: distinct random prefixes, mix 16:5% 24:85% 32:10%, next hops 10.61.0.10-25 on one network."
  echo
  echo "| routes | file MiB | request body MiB | route load s | routes/s | weftd RSS before MiB | RSS after MiB | peak RSS MiB | show fib ADDRESS ms (3 probes) | restart after kill -9 s |"
  echo "|---|---|---|---|---|---|---|---|---|---|"
} >"$OUT"

PHASES=()
IFS=, read -ra SIZE_LIST <<<"$SIZES"
for n in "${SIZE_LIST[@]}"; do
  rm -f "$TMP"/state.db*
  log "$n routes: generating"
  probes=$(gen_routes "$n" "$TMP/routes.txt")
  file_mib=$(echo "scale=1; $(stat -c %s "$TMP/routes.txt") / 1048576" | bc)
  body_mib=$(echo "scale=1; $(body_bytes "$TMP/routes.txt") / 1048576" | bc)
  start_weftd
  ctl network create bench --subnet 10.61.0.0/24 >/dev/null
  before=$(( $(rss_kib "$WEFTD_PID" VmRSS) / 1024 ))
  log "$n routes: weftctl route load ($file_mib MiB file, $body_mib MiB body)"
  t0=$(now)
  ctl route load "$TMP/routes.txt" >/dev/null
  t1=$(now)
  secs=$(echo "$t1 - $t0" | bc)
  rate=$(echo "$n / $secs" | bc)
  after=$(( $(rss_kib "$WEFTD_PID" VmRSS) / 1024 ))
  peak=$(( $(rss_kib "$WEFTD_PID" VmHWM) / 1024 ))
  log "$n routes: $secs s, $rate routes/s, RSS $before -> $after MiB (peak $peak)"
  # weftd's own account of each bulk request, summed: parse+check, records, dataplane, commit.
  phases=$(grep -o 'parse+check [0-9]* ms, records [0-9]* ms, dataplane [0-9]* ms, commit [0-9]* ms' "$TMP/weftd.log" |
           awk '{p+=$2; r+=$5; d+=$8; c+=$11; n++} END {printf "%d request(s): parse+check %d, records %d, dataplane %d, commit %d ms", n, p, r, d, c}')
  : >"$TMP/weftd.log"
  log "$n routes: weftd: $phases"
  fib_ms=()
  while read -r addr prefix; do
    f0=$(now)
    got=$(ctl show fib "$addr" --json)
    f1=$(now)
    echo "$got" | grep -q "\"prefix\":\"$prefix\"" || { echo "routes-api: show fib $addr: expected $prefix, got $got" >&2; exit 1; }
    fib_ms+=("$(echo "($f1 - $f0) * 1000 / 1" | bc)")
  done <<<"$probes"
  log "$n routes: show fib ADDRESS ${fib_ms[*]} ms"
  kill -9 "$WEFTD_PID"; wait "$WEFTD_PID" 2>/dev/null || true; WEFTD_PID=""
  r0=$(now)
  start_weftd
  r1=$(now)
  restart=$(echo "scale=2; ($r1 - $r0) / 1" | bc)
  count=$(grep -c . "$TMP/routes.txt")
  first=$(head -1 <<<"$probes")
  ctl show fib "${first%% *}" --json | grep -q "\"prefix\":\"${first##* }\"" || { echo "routes-api: route missing after restart" >&2; exit 1; }
  log "$n routes: restart with every route restored in $restart s"
  echo "| $n | $file_mib | $body_mib | $(printf %.2f "$secs") | $rate | $before | $after | $peak | ${fib_ms[*]} | $restart |" >>"$OUT"
  PHASES+=("- $n routes, weftd's log summed over the bulk requests: $phases.")
  kill -TERM "$WEFTD_PID"; wait "$WEFTD_PID" 2>/dev/null || true; WEFTD_PID=""
  unset count
done
echo >>"$OUT"
printf '%s\n' "${PHASES[@]}" >>"$OUT"
echo >>"$OUT"
echo "Load average after: $(cut -d' ' -f1-3 /proc/loadavg)." >>"$OUT"

cat "$OUT"
if ((SAVE)); then
  mkdir -p "$RESULTS"
  dest=$RESULTS/$(date -u +%Y-%m-%d)-routes-api.md
  cp "$OUT" "$dest"
  log "saved $dest"
fi
