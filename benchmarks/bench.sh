#!/usr/bin/env bash
# make bench: Weft beside its peers in one command, one report.
#
#   1. weft-bench graph: every scenario (l2, ip4, vxlan-encap, vxlan-decap, nat44, container),
#      median of 5 runs: clocks and ns per packet, Mpps, per-node clocks, allocations per packet.
#   2. weft-bench graph sweeps: cost per packet against vector size (1..256), MACs (1k..1M),
#      routes (1k..1M) and NAT sessions (1k..1M).
#   3. benchmarks/e2e.sh: the generator -> DUT -> sink namespace rig, L2 forwarding, for the
#      Linux bridge, dpdk-testpmd, Open vSwitch (userspace) and weftd (af-packet, af-xdp, tap), frame
#      sizes 64, IMIX and 1518: throughput, NDR (binary search) and latency at 10/50/90% of NDR;
#      then routed (kernel, testpmd, weftd), VXLAN encap/decap and NAT44 (kernel, weftd; testpmd
#      and OVS listed as not applicable, with the reason) at 64 bytes, each with NDR and latency.
#   4. benchmarks/tcp.py: bulk TCP pod to pod (iperf3, 1 and 4 streams), Linux bridge with and
#      without TSO/GSO beside weftd af-packet, af-xdp and tap (medians, ratios, CPU per GB).
#   5. benchmarks/report.py: benchmarks/results/<date>-<host>-bench.md with the tables and PNG
#      plots (gnuplot) in benchmarks/results/<date>-<host>-bench/, and a short summary on stdout.
#
# Needs root, the release build (make build) and scripts/install-deps.sh. The e2e part builds and
# removes its own namespaces (see e2e.sh); nothing else touches the network. On this 2-core
# machine kind the default run takes about 22 minutes (the elapsed time is printed and kept in
# the report).
#
# Usage: benchmarks/bench.sh [--quick] [--no-graph] [--no-e2e] [-o RESULTS_DIR] [--no-save]
#   --quick   fewer runs and sizes (a few minutes; for checking the harness, not for quoting)
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
WEFT_BIN=${WEFT_BIN:-$REPO/.build/release}
RESULTS=$REPO/benchmarks/results
QUICK=0 GRAPH=1 E2E=1 SAVE=1

usage() { sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }
while (($#)); do
  case $1 in
    --quick) QUICK=1; shift ;;
    --no-graph) GRAPH=0; shift ;;
    --no-e2e) E2E=0; shift ;;
    -o|--out) RESULTS=$2; shift 2 ;;
    --no-save) SAVE=0; shift ;;
    -h|--help) usage 0 ;;
    *) echo "bench: unknown argument $1" >&2; usage 1 ;;
  esac
done
[[ $(id -u) -eq 0 ]] || { echo "bench: needs root (the e2e rig builds namespaces)" >&2; exit 1; }
[[ -x $WEFT_BIN/weft-bench ]] || { echo "bench: $WEFT_BIN/weft-bench missing (make build)" >&2; exit 1; }

STAMP=$(date +%Y-%m-%d-%H%M)-$(hostname -s)
WORK=$(mktemp -d /tmp/weft-bench-report-XXXXXX)
trap 'rm -rf "$WORK"' EXIT
START=$(date +%s)
log() { printf '[bench %s] %s\n' "$(date +%T)" "$*" >&2; }
echo "load_before=$(cut -d' ' -f1-3 /proc/loadavg)" >"$WORK/meta"
echo "started=$(date -u +%Y-%m-%dT%H:%MZ)" >>"$WORK/meta"
echo "machine=$(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), kernel $(uname -r)" >>"$WORK/meta"
echo "quick=$QUICK" >>"$WORK/meta"

RUNS=5 PACKETS=10000000
((QUICK)) && RUNS=3 PACKETS=2000000

graph() {  # graph NAME ARGS...: one weft-bench graph call, JSON kept as graph-NAME.json
  local name=$1; shift
  log "graph $name: weft-bench graph $*"
  if ! "$WEFT_BIN/weft-bench" graph "$@" --runs "$RUNS" --packets "$PACKETS" --json >"$WORK/graph-$name.json" 2>"$WORK/graph-$name.err"; then
    local why
    why=$(grep -m1 -i 'error' "$WORK/graph-$name.err" || tail -1 "$WORK/graph-$name.err")
    log "graph $name failed: $why"
    printf '%s' "$why" | python3 -c 'import json,sys; print(json.dumps({"error": sys.stdin.read().strip()}))' >"$WORK/graph-$name.json"
  fi
}

if ((GRAPH)); then
  for s in l2 ip4 vxlan-encap vxlan-decap nat44 container; do graph "scenario-$s" "$s"; done
  # The same routed scenarios on the other FIB structure (weftd.yaml fib_algorithm: dxr; docs/fib.md).
  for s in ip4 container; do graph "scenario-$s-dxr" "$s" --fib dxr; done
  if ((QUICK)); then vectors="1 256" macs="1000 100000" routes="1000 100000" sessions="1000 100000"
  else vectors="1 4 16 64 256" macs="1000 10000 100000 1000000" routes="1000 10000 100000 1000000"
       sessions="1000 10000 100000 1000000"; fi
  for v in $vectors; do graph "sweep-vector-$v" l2 --vector "$v"; done
  for m in $macs; do graph "sweep-macs-$m" l2 --macs "$m"; done
  for r in $routes; do graph "sweep-routes-$r" ip4 --routes "$r"; done
  for n in $sessions; do graph "sweep-sessions-$n" nat44 --sessions "$n"; done
fi

if ((E2E)); then
  if ((QUICK)); then e2e_args=(-t 2 -r 1 -s 64); else e2e_args=(-t 5 -r 3 -s 64,imix,1518); fi
  log "e2e l2: benchmarks/e2e.sh ${e2e_args[*]} --ndr --latency"
  # One datapath failing is reported inside e2e.sh's table; a failing e2e.sh run is reported here.
  if ! WEFT_BIN=$WEFT_BIN "$REPO/benchmarks/e2e.sh" -m l2 -d bridge,testpmd,ovs,ovs-afxdp,weft,weft-xdp,weft-tap \
      "${e2e_args[@]}" --ndr --latency --no-save --json "$WORK/e2e.json" >"$WORK/e2e.md" 2>"$WORK/e2e.log"; then
    log "e2e failed: $(tail -2 "$WORK/e2e.log" | tr '\n' ' ')"
    echo '{"error": "benchmarks/e2e.sh failed: see its log"}' >"$WORK/e2e.json"
  fi
  # The rest of a container node's datapaths, each beside the kernel's own (the reference CNI
  # bridge plugin's routing, flannel's vxlan + bridge, iptables masquerade): routed with NDR and
  # latency, VXLAN and NAT with NDR and latency (weft-bench latency --template sends their own
  # frames, paced; 64-byte frames; NAT's new-flows variant has no NDR: see e2e.sh).
  if ((QUICK)); then mode_args=(-t 2 -r 1); else mode_args=(-t 5 -r 3); fi
  for mode in routed vxlan-encap vxlan-decap nat; do
    case $mode in
      routed) margs=(-d kernel,testpmd,weft,weft-xdp --ndr --latency) ;;
      *) margs=(-d kernel,weft --ndr --latency) ;;
    esac
    log "e2e $mode: benchmarks/e2e.sh -m $mode ${margs[*]} ${mode_args[*]}"
    if ! WEFT_BIN=$WEFT_BIN "$REPO/benchmarks/e2e.sh" -m "$mode" "${margs[@]}" "${mode_args[@]}" --no-save \
        --json "$WORK/e2e-$mode.json" >"$WORK/e2e-$mode.md" 2>"$WORK/e2e-$mode.log"; then
      log "e2e $mode failed: $(tail -2 "$WORK/e2e-$mode.log" | tr '\n' ' ')"
      echo "{\"error\": \"benchmarks/e2e.sh -m $mode failed: see its log\"}" >"$WORK/e2e-$mode.json"
    fi
  done
fi

# Bulk TCP pod to pod (benchmarks/tcp.py): Linux bridge with and without TSO/GSO beside weftd's
# attach modes, one and four streams; its own table, appended to the report (issue 19's baseline).
if ((E2E)); then
  if ((QUICK)); then tcp_args=(--runs 1 --seconds 2 --streams 1); else tcp_args=(--runs 5 --seconds 5 --streams 1,4); fi
  log "tcp: benchmarks/tcp.py ${tcp_args[*]}"
  python3 "$REPO/benchmarks/tcp.py" "${tcp_args[@]}" -o "$WORK/tcp.md" --json "$WORK/tcp.json" >/dev/null 2>"$WORK/tcp.log" \
    || log "tcp: a datapath carried no TCP: $(tail -2 "$WORK/tcp.log" | tr '\n' ' ')"
fi

# An idle weftd (benchmarks/idle.py, issue 26): CPU with 0, 100 and 1,000 idle pods and the first
# packet after 5 s of silence; its own table, appended to the report.
if ((E2E)); then
  if ((QUICK)); then idle_args=(--pods 0,100 --seconds 3 --idle 1 --samples 2); else idle_args=(--pods 0,100,1000); fi
  log "idle: benchmarks/idle.py ${idle_args[*]}"
  python3 "$REPO/benchmarks/idle.py" "${idle_args[@]}" -o "$WORK/idle.md" --json "$WORK/idle.json" >/dev/null 2>"$WORK/idle.log" \
    || log "idle: a first packet was lost: $(tail -2 "$WORK/idle.log" | tr '\n' ' ')"
fi

echo "load_after=$(cut -d' ' -f1-3 /proc/loadavg)" >>"$WORK/meta"
echo "elapsed_s=$(($(date +%s) - START))" >>"$WORK/meta"
DEST=$RESULTS/$STAMP-bench.md
((SAVE)) || DEST=$WORK/report.md
mkdir -p "$(dirname "$DEST")"
python3 "$REPO/benchmarks/report.py" "$WORK" "$DEST"
if [[ -s $WORK/tcp.md ]]; then { echo; sed 's/^# /## /' "$WORK/tcp.md"; } >>"$DEST"; fi
if [[ -s $WORK/idle.md ]]; then { echo; sed 's/^# /## /' "$WORK/idle.md"; } >>"$DEST"; fi
if ((SAVE)); then log "saved $DEST and its plots in ${DEST%.md}/"; else cat "$DEST"; fi
log "elapsed $(($(date +%s) - START)) s"
