#!/usr/bin/env bash
# End-to-end forwarding benchmark: Weft against its peers on the same machine, in one run.
#
#   gen ns                dut ns (datapath under test)               sink ns
#   g0 10.77.0.1/24 <--veth--> d0   [bridge | testpmd | weftd]   d1 <--veth--> s0 10.77.0.2/24   (-m l2)
#   g0 10.77.0.2/24 <--veth--> d0   [kernel | weftd] routes      d1 <--veth--> s0 10.78.0.2/24   (-m routed)
#
# trafgen in gen (pinned to CPU 0) sends one fixed 64-byte UDP frame to s0's MAC (l2) or to the
# dut's gateway MAC for 10.78.0.2 (routed); the rate is the delta of s0's rx_packets over the
# window, the generator rate the delta of g0's tx_packets. Everything lives in namespaces named
# weft-bench-{gen,dut,sink}-<random>, rebuilt for every datapath and removed on exit (also on
# failure or Ctrl-C). No traffic leaves them.
#
# Usage: benchmarks/e2e.sh [-m l2|routed] [-t SECONDS] [-r RUNS] [-d DATAPATHS] [-s FRAME_BYTES]
#                          [-o RESULTS_DIR] [--no-save]
#   DATAPATHS: l2 bridge,testpmd,weft (default),none; routed kernel,testpmd,weft (default),none
set -euo pipefail

DURATION=5
RUNS=3
MODE=l2
DATAPATHS=""
CMDLINE="$*"
FRAME=64
WARMUP=1
SAVE=1
REPO=$(cd "$(dirname "$0")/.." && pwd)
RESULTS=$REPO/benchmarks/results
WEFT_BIN=${WEFT_BIN:-$REPO/.build/release}
WEFT_BD=10

usage() { sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }
while (($#)); do
  case $1 in
    -m|--mode) MODE=$2; shift 2 ;;
    -t|--duration) DURATION=$2; shift 2 ;;
    -r|--runs) RUNS=$2; shift 2 ;;
    -d|--datapaths) DATAPATHS=$2; shift 2 ;;
    -s|--frame-size) FRAME=$2; shift 2 ;;
    -o|--out) RESULTS=$2; shift 2 ;;
    --no-save) SAVE=0; shift ;;
    -h|--help) usage 0 ;;
    *) echo "e2e: unknown argument $1" >&2; usage 1 ;;
  esac
done
case $MODE in
  l2) DATAPATHS=${DATAPATHS:-bridge,testpmd,weft} ;;
  routed) DATAPATHS=${DATAPATHS:-kernel,testpmd,weft} ;;
  *) echo "e2e: -m must be l2 or routed" >&2; usage 1 ;;
esac
[[ $(id -u) -eq 0 ]] || { echo "e2e: needs root" >&2; exit 1; }
for t in ip trafgen taskset python3; do
  command -v "$t" >/dev/null || { echo "e2e: $t missing (scripts/install-deps.sh)" >&2; exit 1; }
done

SUFFIX=$(head -c3 /dev/urandom | od -An -tx1 | tr -d ' \n')
GEN=weft-bench-gen-$SUFFIX
DUT=weft-bench-dut-$SUFFIX
SINK=weft-bench-sink-$SUFFIX
TMP=$(mktemp -d /tmp/weft-bench-XXXXXX)
STAMP=$(date +%Y-%m-%d-%H%M%S)
RAW=$RESULTS/raw/$STAMP   # per-run logs (gitignored); kept only when saving
((SAVE)) || RAW=$TMP/raw
mkdir -p "$RAW"
ROWS=$TMP/rows.tsv   # datapath <TAB> run <TAB> sink_pps <TAB> gen_pps <TAB> drop_pps |  datapath <TAB> NA <TAB> reason
: >"$ROWS"
GEN_PID=""
DP_PID=""
DPDK_PREFIX=weftbench$SUFFIX

log() { printf '[e2e %s] %s\n' "$(date +%T)" "$*" >&2; }

stop_pid() {  # stop_pid PID [SIGNAL]: signal, wait up to 5 s, then SIGKILL. Only our own pids.
  local pid=$1 sig=${2:-TERM}
  [[ -n $pid ]] || return 0
  kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
  kill "-$sig" "$pid" 2>/dev/null || true
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

dp_stop() {
  stop_pid "$DP_PID" INT
  DP_PID=""
  exec 7>&- 2>/dev/null || true
  rm -rf "/var/run/dpdk/$DPDK_PREFIX"
  if ip netns list | grep -qw "$DUT"; then ip -n "$DUT" link del br0 2>/dev/null || true; fi
}

rig_down() {
  stop_pid "$GEN_PID" INT
  GEN_PID=""
  local ns pid
  for ns in "$GEN" "$DUT" "$SINK"; do
    if ip netns list | grep -qw "$ns"; then
      # anything left inside our own namespaces was started by this script
      for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$pid" 2>/dev/null || true; done
      ip netns del "$ns" 2>/dev/null || true
    fi
  done
}

cleanup() {
  local rc=$?
  set +e
  dp_stop
  rig_down
  rm -rf "$TMP"
  ((rc == 0 || ! SAVE)) || log "exit $rc; logs in $RAW"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

rig_up() {
  local ns
  for ns in "$GEN" "$DUT" "$SINK"; do
    ip netns add "$ns"
    ip -n "$ns" link set lo up
    # no IPv6 chatter (RS, MLD, DAD) on the measured links
    ip netns exec "$ns" sysctl -q -w net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
  done
  ip -n "$GEN" link add g0 type veth peer name d0 netns "$DUT"
  ip -n "$DUT" link add d1 type veth peer name s0 netns "$SINK"
  if [[ $MODE == l2 ]]; then
    ip -n "$GEN" addr add 10.77.0.1/24 dev g0
    ip -n "$SINK" addr add 10.77.0.2/24 dev s0
    ip -n "$DUT" link set d0 promisc on
    ip -n "$DUT" link set d1 promisc on
  else
    # routed: two subnets, the dut's gateways are 10.77.0.1 and 10.78.0.1 (set by the datapath)
    ip -n "$GEN" addr add 10.77.0.2/24 dev g0
    ip -n "$SINK" addr add 10.78.0.2/24 dev s0
  fi
  ip -n "$GEN" link set g0 up
  ip -n "$DUT" link set d0 up
  ip -n "$DUT" link set d1 up
  ip -n "$SINK" link set s0 up
  if [[ $MODE == routed ]]; then
    ip -n "$GEN" route add default via 10.77.0.1 dev g0
    ip -n "$SINK" route add default via 10.78.0.1 dev s0
  fi
  G0_MAC=$(cat_stat "$GEN" g0 address)
  S0_MAC=$(cat_stat "$SINK" s0 address)
  D0_MAC=$(cat_stat "$DUT" d0 address)
}

traffic_cfg() {  # after the datapath is up: l2 -> s0's MAC; routed -> the dut's gateway MAC (GW_MAC)
  if [[ $MODE == l2 ]]; then
    "$REPO/benchmarks/trafgen-udp.sh" "$S0_MAC" "$G0_MAC" 10.77.0.1 10.77.0.2 "$FRAME" >"$TMP/udp.cfg"
  else
    "$REPO/benchmarks/trafgen-udp.sh" "${GW_MAC:-$D0_MAC}" "$G0_MAC" 10.77.0.2 10.78.0.2 "$FRAME" >"$TMP/udp.cfg"
  fi
}

routed_warmup() {  # routed: ping 10.78.0.2 through the datapath so every ARP entry is resolved
  # (weft drops the packet that triggers an ARP request, so the first echo may get no reply)
  local i nmac
  for i in $(seq 20); do
    ip netns exec "$GEN" ping -n -q -c 1 -W 1 10.78.0.2 >/dev/null 2>&1 && break
    ((i == 20)) && { REASON="no route through the datapath (ping 10.78.0.2 from gen failed)"; return 1; }
    sleep 0.2
  done
  nmac=$(ip -n "$GEN" neigh show 10.77.0.1 dev g0 | awk '{for (i = 1; i < NF; i++) if ($i == "lladdr") print $(i+1)}')
  if [[ ${nmac,,} != "${GW_MAC,,}" ]]; then
    REASON="gen resolved 10.77.0.1 to '$nmac', expected gateway MAC $GW_MAC"; return 1
  fi
  log "$dp: 10.78.0.2 reachable through the datapath, gateway 10.77.0.1 is $GW_MAC"
  # one more round so the sink's ARP for 10.78.0.1 and the dut's for 10.77.0.2 are settled too
  ip netns exec "$GEN" ping -n -q -c 3 -i 0.2 -W 1 10.78.0.2 >/dev/null 2>&1 || true
}

cat_stat() {  # cat_stat NS IF FILE  (sysfs as seen inside NS: ip netns exec remounts /sys)
  case $3 in
    address) ip netns exec "$1" cat "/sys/class/net/$2/address" ;;
    *) ip netns exec "$1" cat "/sys/class/net/$2/statistics/$3" ;;
  esac
}

measure() {  # prints "sink_pps gen_pps sink_drop_pps"
  ip netns exec "$GEN" taskset -c 0 trafgen -i "$TMP/udp.cfg" -o g0 -q -P 1 \
    >"$TMP/trafgen.log" 2>&1 &
  GEN_PID=$!
  sleep "$WARMUP"
  kill -0 "$GEN_PID" 2>/dev/null || { log "trafgen died: $(tail -5 "$TMP/trafgen.log")"; return 1; }
  local t0 s0 g0 d0 t1 s1 g1 d1
  s0=$(cat_stat "$SINK" s0 rx_packets); g0=$(cat_stat "$GEN" g0 tx_packets)
  d0=$(cat_stat "$DUT" d1 tx_dropped); t0=$(date +%s.%N)
  sleep "$DURATION"
  s1=$(cat_stat "$SINK" s0 rx_packets); g1=$(cat_stat "$GEN" g0 tx_packets)
  d1=$(cat_stat "$DUT" d1 tx_dropped); t1=$(date +%s.%N)
  kill -0 "$GEN_PID" 2>/dev/null || { log "trafgen died: $(tail -5 "$TMP/trafgen.log")"; return 1; }
  stop_pid "$GEN_PID" INT
  GEN_PID=""
  # d1 tx_dropped: frames the dut sent that the veth could not queue into s0's backlog
  # (full), i.e. forwarded but lost on the sink side.
  python3 -c 'import sys; s0,s1,g0,g1,d0,d1,t0,t1=map(float,sys.argv[1:]); dt=t1-t0
print(round((s1-s0)/dt), round((g1-g0)/dt), round((d1-d0)/dt))' \
    "$s0" "$s1" "$g0" "$g1" "$d0" "$d1" "$t0" "$t1"
}

# ---- datapaths: dp_<name>_start sets DP_PID (if a process) or returns 1 with REASON set -----

REASON=""

dp_none_start() { :; }

dp_kernel_start() {  # routed: Linux IPv4 forwarding in dut (the CNI bridge plugin / flannel host-gw path)
  ip netns exec "$DUT" sysctl -q -w net.ipv4.ip_forward=1 || { REASON="sysctl ip_forward failed"; return 1; }
  ip -n "$DUT" addr add 10.77.0.1/24 dev d0 && ip -n "$DUT" addr add 10.78.0.1/24 dev d1 \
    || { REASON="cannot address d0/d1"; return 1; }
  GW_MAC=$D0_MAC
}

na_reason() {  # na_reason DATAPATH: why it does not apply in this mode (empty if it does)
  case $MODE:$1 in
    routed:testpmd) echo "n/a in routed mode (io forwarding does not route)" ;;
    routed:bridge) echo "n/a in routed mode (a bridge does not route; see kernel)" ;;
    l2:kernel) echo "n/a in l2 mode (the kernel's L2 datapath is bridge)" ;;
  esac
}

dp_bridge_start() {
  ip -n "$DUT" link add br0 type bridge stp_state 0 forward_delay 0
  ip -n "$DUT" link set d0 master br0
  ip -n "$DUT" link set d1 master br0
  ip -n "$DUT" link set br0 up
}

dp_testpmd_start() {
  local bin
  bin=$(command -v dpdk-testpmd || true)
  if [[ -z $bin ]]; then REASON="dpdk-testpmd not installed (Debian package dpdk-dev)"; return 1; fi
  local vd="blocksz=4096,framesz=2048,framecnt=4096,qpairs=1"
  # Non-interactive testpmd forwards until a byte arrives on stdin: give it a fifo that we
  # hold open (so it never sees EOF); it is stopped with SIGINT.
  rm -f "$TMP/testpmd.in"; mkfifo "$TMP/testpmd.in"
  exec 7<>"$TMP/testpmd.in"
  ip netns exec "$DUT" stdbuf -oL -eL "$bin" --no-huge -m 1024 --no-pci -l 0-1 --file-prefix "$DPDK_PREFIX" \
    "--vdev=net_af_packet0,iface=d0,$vd" "--vdev=net_af_packet1,iface=d1,$vd" \
    -- --forward-mode=io --auto-start <&7 >"$RAW/testpmd.log" 2>&1 &
  DP_PID=$!
  local i
  for i in $(seq 300); do
    grep -q 'Press enter to exit' "$RAW/testpmd.log" && return 0
    if ! kill -0 "$DP_PID" 2>/dev/null; then
      REASON="testpmd exited: $(grep -vE '^\s*$' "$RAW/testpmd.log" | tail -1)"; DP_PID=""; return 1
    fi
    sleep 0.1
  done
  REASON="testpmd did not start forwarding within 30 s"
  return 1
}

dp_weft_start() {
  local b
  for b in weftd weftctl; do
    [[ -x $WEFT_BIN/$b ]] || { REASON="$WEFT_BIN/$b not built"; return 1; }
  done
  local sock=$TMP/weft.sock
  rm -f "$TMP/weft.db" "$sock"
  ip netns exec "$DUT" "$WEFT_BIN/weftd" --socket "$sock" --state "$TMP/weft.db" \
    --worker-cpu 1 --poll-mode busy >"$RAW/weftd.log" 2>&1 &
  DP_PID=$!
  local i
  for i in $(seq 100); do
    "$WEFT_BIN/weftctl" --socket "$sock" show interfaces >/dev/null 2>&1 && break
    kill -0 "$DP_PID" 2>/dev/null || { REASON="weftd exited: $(tail -1 "$RAW/weftd.log")"; DP_PID=""; return 1; }
    ((i == 100)) && { REASON="weftd not ready after 10 s"; return 1; }
    sleep 0.1
  done
  local out net subnet bd ifs ifn
  # l2: one network "bench" with d0 and d1; routed: gen-net (d0) and sink-net (d1), whose
  # gateways (BVIs) take 10.77.0.1 and 10.78.0.1
  local -a nets
  if [[ $MODE == l2 ]]; then
    nets=("bench 10.78.0.0/24 $WEFT_BD d0 d1")
  else
    nets=("gen-net 10.77.0.0/24 $WEFT_BD d0" "sink-net 10.78.0.0/24 $((WEFT_BD + 1)) d1")
  fi
  local spec
  for spec in "${nets[@]}"; do
    read -r net subnet bd ifs <<<"$spec"
    if ! out=$("$WEFT_BIN/weftctl" --socket "$sock" network create "$net" --subnet "$subnet" \
        --bridge-domain "$bd" 2>&1); then
      REASON="weftctl network create $net failed: ${out//$'\n'/ }"; return 1
    fi
    echo "$out" >>"$RAW/weftctl.log"
    for ifn in $ifs; do
      # Same offload settings as attach gives container veths: no GSO super-frames.
      ip netns exec "$DUT" ethtool -K "$ifn" tso off gso off >/dev/null 2>&1 || true
      if ! out=$("$WEFT_BIN/weftctl" --socket "$sock" interface add "$ifn" --network "$net" 2>&1); then
        REASON="weftctl interface add $ifn failed: ${out//$'\n'/ }"; return 1
      fi
    done
  done
  if [[ $MODE == routed ]]; then
    # trafgen's destination: the gen-side gateway's MAC, i.e. the BVI of bridge domain $WEFT_BD
    "$WEFT_BIN/weftctl" --socket "$sock" show interfaces --json >"$RAW/weft-interfaces.json" 2>&1 || true
    GW_MAC=$(python3 - "$RAW/weft-interfaces.json" "$WEFT_BD" <<'PY'
import json, sys
data = json.load(open(sys.argv[1]))
items = data.get("interfaces", data) if isinstance(data, dict) else data
bvis = [i for i in items if isinstance(i, dict) and i.get("driver") == "bvi"]
mine = [i for i in bvis if str(i.get("bridgeDomain", i.get("bridge_domain", ""))) == sys.argv[2]
        or i.get("name") == "bvi" + sys.argv[2]]
for i in mine or bvis[:1]:
    print(i.get("mac") or i.get("macAddress") or i.get("address") or "")
PY
) || GW_MAC=""
    [[ -n $GW_MAC ]] || { REASON="no bvi MAC in weftctl show interfaces --json"; return 1; }
  fi
}

dp_weft_report() {  # keep weft's own view of the run
  local sock=$TMP/weft.sock c
  local -a cmds=("show runtime" "show interfaces" "show errors" "show bridge-domain $WEFT_BD detail")
  [[ $MODE == routed ]] && cmds+=("show bridge-domain $((WEFT_BD + 1)) detail" "show neighbors" "show fib")
  for c in "${cmds[@]}"; do
    { echo "## weftctl $c"; "$WEFT_BIN/weftctl" --socket "$sock" $c 2>&1; echo; } >>"$RAW/weft-show.txt"
  done
}

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
log "load average $LOAD_BEFORE"
log "rig $GEN/$DUT/$SINK, mode $MODE, ${FRAME}-byte frames, ${DURATION}s x $RUNS runs, datapaths $DATAPATHS"
IFS=, read -r -a DPS <<<"$DATAPATHS"
for dp in "${DPS[@]}"; do
  declare -F "dp_${dp}_start" >/dev/null || { echo "e2e: unknown datapath $dp" >&2; exit 1; }
done

for dp in "${DPS[@]}"; do
  REASON=$(na_reason "$dp")
  if [[ -n $REASON ]]; then
    log "$dp: $REASON"
    printf '%s\tNA\t%s\n' "$dp" "$REASON" >>"$ROWS"
    continue
  fi
  rig_up
  GW_MAC=""
  if ! "dp_${dp}_start" || ! traffic_cfg \
      || { [[ $MODE == routed && $dp != none ]] && ! routed_warmup; }; then
    log "$dp: not available ($REASON)"
    printf '%s\tNA\t%s\n' "$dp" "$REASON" >>"$ROWS"
  else
    for r in $(seq "$RUNS"); do
      if res=$(measure); then
        read -r sink gen drop <<<"$res"
        log "$dp run $r: sink $sink pps, generator $gen pps, d1 tx_dropped $drop/s"
        printf '%s\t%s\t%s\t%s\t%s\n' "$dp" "$r" "$sink" "$gen" "$drop" >>"$ROWS"
      else
        REASON="generator failed"; printf '%s\tNA\t%s\n' "$dp" "$REASON" >>"$ROWS"; break
      fi
      if [[ -n $DP_PID ]] && ! kill -0 "$DP_PID" 2>/dev/null; then
        log "$dp: datapath process died during run $r"
        printf '%s\tNA\t%s\n' "$dp" "datapath process died during run $r" >>"$ROWS"; break
      fi
    done
    if [[ $dp == weft ]]; then dp_weft_report; fi
  fi
  dp_stop
  rig_down
done

# ---- report ---------------------------------------------------------------------------------
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
if [[ $MODE == l2 ]]; then what="E2E L2 forwarding"; else what="E2E routed IPv4 forwarding (10.77.0.2 -> 10.78.0.2 through the dut's gateways)"; fi
header="load average before: $LOAD_BEFORE, after: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine skews these numbers). $what, ${FRAME}-byte UDP frames, trafgen 1 process on CPU 0, ${DURATION} s x ${RUNS} runs; $(date '+%Y-%m-%d %H:%M'); kernel $(uname -r); $(nproc) CPUs ($cpu)"
TABLE=$(python3 - "$ROWS" "$header" "$MODE" "${DPS[@]}" <<'PY'
import statistics, sys
rows_path, header, mode, order = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
labels = {"none": "nothing forwarding (generator ceiling)", "bridge": "Linux bridge br0 (d0, d1)",
          "testpmd": "dpdk-testpmd io, 2x net_af_packet", "weft": "weftd (worker CPU 1, busy poll)"}
if mode == "routed":
    labels.update({"kernel": "Linux IPv4 forwarding (ip_forward=1, d0 10.77.0.1, d1 10.78.0.1)",
                   "weft": "weftd routing gen-net -> sink-net via BVIs (worker CPU 1, busy poll)"})
refdp = "kernel" if mode == "routed" else "testpmd"
runs, na = {}, {}
for line in open(rows_path):
    f = line.rstrip("\n").split("\t")
    if f[1] == "NA":
        na[f[0]] = f[2]
    else:
        runs.setdefault(f[0], []).append((int(f[2]), int(f[3]), int(f[4])))
def k(v):
    return f"{v/1e6:.2f} M" if v >= 1e6 else f"{v/1e3:.0f} k"
ref = statistics.median(s for s, _, _ in runs[refdp]) if runs.get(refdp) else None
print(f"_{header}_\n")
print(f"| datapath | sink pps median (min-max) | generator pps median | ratio vs {refdp} | d1 tx_dropped/s |")
print("|---|---|---|---|---|")
for dp in order:
    name = labels.get(dp, dp)
    r = runs.get(dp, [])
    if r:
        sinks = [s for s, _, _ in r]
        gens = [g for _, g, _ in r]
        drops = [d for _, _, d in r]
        med = statistics.median(sinks)
        ratio = f"{med/ref:.2f}" if ref and dp != "none" else ("-" if dp == "none" else "n/a")
        note = f" (incomplete: {na[dp]})" if dp in na else ""
        print(f"| {name} | {k(med)} ({k(min(sinks))}-{k(max(sinks))}){note} | {k(statistics.median(gens))} | {ratio} | {k(statistics.median(drops))} |")
    else:
        reason = na.get(dp, "no data")
        print(f"| {name} | {reason if reason.startswith('n/a') else f'not available ({reason})'} | - | - | - |")
print()
print("raw runs (datapath, run, sink pps, generator pps, d1 tx_dropped/s):")
for dp in order:
    for i, (s, g, d) in enumerate(runs.get(dp, []), 1):
        print(f"    {dp} {i} {s} {g} {d}")
PY
)
echo
echo "$TABLE"
if ((SAVE)); then
  kind=e2e; [[ $MODE == routed ]] && kind=e2e-routed
  out=$RESULTS/$(date +%Y-%m-%d)-$kind.md
  [[ -e $out ]] && out=$RESULTS/$STAMP-$kind.md
  if [[ $MODE == l2 ]]; then
    { echo "# E2E benchmark $STAMP"; echo; echo "$TABLE"; } >"$out"
  else
    { echo "# E2E routed benchmark $STAMP"; echo; echo "Command: \`benchmarks/e2e.sh $CMDLINE\`"; echo
      echo "$TABLE"; } >"$out"
  fi
  cp "$ROWS" "$RAW/rows.tsv"
  log "table written to $out (logs in $RAW)"
fi
