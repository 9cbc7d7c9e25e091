#!/usr/bin/env bash
# End-to-end forwarding benchmark: Weft against its peers on the same machine, in one run.
#
#   gen ns                dut ns (datapath under test)               sink ns
#   g0 10.77.0.1/24 <--veth--> d0   [bridge | testpmd | weftd]   d1 <--veth--> s0 10.77.0.2/24   (-m l2)
#   g0 10.77.0.2/24 <--veth--> d0   [kernel | weftd] routes      d1 <--veth--> s0 10.78.0.2/24   (-m routed)
#   g0 10.99.0.2/24 <--veth--> d0   [kernel | weftd] VXLAN  10.78.0.1 d1 <--veth--> s0 10.78.0.2/24
#      overlay host                 encap to 10.78.0.2                     remote VTEP  (-m vxlan-encap)
#   g0 10.77.0.2/24 <--veth--> d0 10.77.0.1 [kernel | weftd] VXLAN d1 <--veth--> s0 10.99.0.2/24
#      remote VTEP                  decap                                  overlay host (-m vxlan-decap)
#   g0 10.77.0.2/24 <--veth--> d0 10.77.0.1 [kernel | weftd] NAT44 d1 10.78.0.1 <--veth--> s0 10.78.0.2/24
#      inside host                  masquerade behind 10.78.0.1         "internet", no route back (-m nat)
#
# trafgen in gen (pinned to CPU 0) sends one fixed 64-byte UDP frame to s0's MAC (l2) or to the
# dut's gateway MAC for 10.78.0.2 (routed); the rate is the delta of s0's rx_packets over the
# window, the generator rate the delta of g0's tx_packets. vxlan-encap: the frame goes to a remote
# overlay host (REMOTE_MAC, learned on the tunnel), the dut encapsulates it to s0; vxlan-decap:
# trafgen sends it inside VXLAN (vxlan-frame.py) to the dut, which decapsulates it to s0.
# nat: two measurements per datapath (trafgen-flows.sh), both masqueraded behind 10.78.0.1 (s0 can
# only answer translated packets; a tcpdump in sink checks the source): "established", 256 UDP
# flows round robin (translation of known sessions), and "new flows", a new 5-tuple every frame
# (connection setup: session/conntrack creation), with the UDP timeout NAT_UDP_TIMEOUT (default
# 1 s) on both and weft's table NAT_SESSIONS (default: the kernel's nf_conntrack_max, global).
# Everything lives in namespaces named weft-bench-{gen,dut,sink}-<random>, rebuilt for every
# datapath and removed on exit (also on failure or Ctrl-C). No traffic leaves them.
#
# Usage: benchmarks/e2e.sh [-m l2|routed|vxlan-encap|vxlan-decap|nat] [-t SECONDS] [-r RUNS]
#                          [-d DATAPATHS] [-s FRAMES] [-o RESULTS_DIR] [--no-save]
#                          [--ndr [--ndr-loss PCT] [--ndr-iter N] [--ndr-window S] [--ndr-gen auto|trafgen|weft-bench]]
#                          [--latency [--lat-duration S]] [--csv FILE] [--json FILE]
#   DATAPATHS: l2 bridge,testpmd,ovs,ovs-afxdp,weft (default bridge,testpmd,weft),weft-xdp,none;
#              routed kernel,testpmd,weft (default),weft-xdp,none; vxlan-encap, vxlan-decap, nat
#              kernel,weft (default),none. ovs: Open vSwitch's userspace (netdev) datapath, ports
#              d0/d1 of type system (AF_PACKET); ovs-afxdp: the same with type=afxdp (native copy)
#   FRAMES: comma-separated frame sizes (bytes handed to the kernel, no FCS), default 64; l2 and
#              routed also take 1518 (sent as 1514: the veth MTU; 1518 with the FCS) and imix (64,
#              594, 1518 7:4:1, trafgen-imix.sh), e.g. -s 64,imix,1518. vxlan: the inner frame (at
#              most 1464: the overlay MTU is 1450); vxlan and nat take one size only
#   --ndr: after the throughput runs, binary search (every mode) for the highest offered rate with
#              at most PCT % loss (--ndr-loss, default 0) between 0 and the measured max:
#              N trials (--ndr-iter, default 7) of S seconds (--ndr-window, default 2); loss = g0
#              tx_packets - s0 rx_packets; generator weft-bench latency --rate (paced; auto: if built)
#              (imix too; vxlan/nat: the mode's frames via --template, nat its established flows)
#              or trafgen -b RATEpps (bursty, see README). Env WEFT_BENCH_NDR_CPUS (default 0)
#   --latency: after the NDR (implies --ndr), weft-bench latency at 10, 50, 90 % of the NDR for
#              S seconds each (--lat-duration, default 3; vxlan/nat: --template, nat established
#              flows); skipped if weft-bench has no latency command (env WEFT_BENCH_CPUS: taskset)
#   --csv/--json FILE: the summary (one row per datapath x frame size) machine-readable
#   nat, environment: NAT_UDP_TIMEOUT (s, default 1), NAT_SESSIONS (weft's nat_max_sessions)
#   --driver af-packet|af-xdp: how the weft datapath opens d0/d1 (default af-packet); the datapath
#              weft-xdp is weft with af-xdp (native mode), weft-xdp-generic the same in generic (skb)
#              mode, so `-d weft,weft-xdp` compares the drivers in one run; weft-tap (l2 only): no
#              veths at all, weftd attaches gen's g0 and sink's s0 as TAP devices it serves itself
set -euo pipefail

DURATION=5
RUNS=3
MODE=l2
DATAPATHS=""
CMDLINE="$*"
FRAMES=64   # -s: comma-separated; FRAME is the one being measured
WARMUP=1
SAVE=1
REPO=$(cd "$(dirname "$0")/.." && pwd)
RESULTS=$REPO/benchmarks/results
WEFT_BIN=${WEFT_BIN:-$REPO/.build/release}
WEFT_BD=10
WEFT_TAP=0
WEFT_DRIVER=af-packet   # --driver: af-packet or af-xdp for the weft datapath's d0/d1
# vxlan modes: VNI, the remote overlay host (behind the remote VTEP) and the local one (g0 in
# encap, s0 in decap). 10.99.0.1 is left free: weft gives the network's gateway (BVI) that address.
VNI=1
REMOTE_MAC=02:00:00:99:00:03
REMOTE_IP=10.99.0.3
LOCAL_IP=10.99.0.2
# nat mode: the UDP timeout both datapaths get (s) and weft's session table (default: the same
# size as the kernel's conntrack table, nf_conntrack_max, which is global: not settable per netns)
NAT_UDP_TIMEOUT=${NAT_UDP_TIMEOUT:-1}
NAT_SESSIONS=${NAT_SESSIONS:-}
NAT_FLOWS=256   # established-flow measurement: this many UDP flows round robin
NDR=0 NDR_LOSS=0 NDR_ITER=7 NDR_WINDOW=2 NDR_GEN=auto   # --ndr: zero-loss (<= NDR_LOSS %) search
LATENCY=0 LAT_DURATION=3 LAT_LEVELS="10 50 90"             # --latency: % of the NDR
CSV_OUT="" JSON_OUT=""
T_START=$(date +%s)

usage() { sed -n '2,53p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }
while (($#)); do
  case $1 in
    -m|--mode) MODE=$2; shift 2 ;;
    -t|--duration) DURATION=$2; shift 2 ;;
    -r|--runs) RUNS=$2; shift 2 ;;
    -d|--datapaths) DATAPATHS=$2; shift 2 ;;
    -s|--frame-size) FRAMES=$2; shift 2 ;;
    -o|--out) RESULTS=$2; shift 2 ;;
    --driver) WEFT_DRIVER=$2; shift 2 ;;
    --no-save) SAVE=0; shift ;;
    --ndr) NDR=1; shift ;;
    --ndr-loss) NDR_LOSS=$2; shift 2 ;;
    --ndr-iter) NDR_ITER=$2; shift 2 ;;
    --ndr-window) NDR_WINDOW=$2; shift 2 ;;
    --ndr-gen) NDR_GEN=$2; shift 2 ;;
    --latency) LATENCY=1; NDR=1; shift ;;
    --lat-duration) LAT_DURATION=$2; shift 2 ;;
    --csv) CSV_OUT=$2; shift 2 ;;
    --json) JSON_OUT=$2; shift 2 ;;
    -h|--help) usage 0 ;;
    *) echo "e2e: unknown argument $1" >&2; usage 1 ;;
  esac
done
IFS=, read -r -a FRAME_LIST <<<"$FRAMES"
for f in "${FRAME_LIST[@]}"; do
  case $f in
    imix) [[ $MODE == l2 || $MODE == routed ]] || { echo "e2e: -s imix: l2 and routed modes only" >&2; exit 1; } ;;
    1518) [[ $MODE == l2 || $MODE == routed ]] || { echo "e2e: -s 1518: l2 and routed modes only" >&2; exit 1; } ;;
    *[!0-9]*|"") echo "e2e: -s $f: a frame size in bytes, 1518 or imix" >&2; exit 1 ;;
    *) ((f >= 43 && f <= 1514)) || { echo "e2e: -s $f: 43 to 1514 bytes (or 1518, sent as 1514)" >&2; exit 1; } ;;
  esac
done
FRAME=${FRAME_LIST[0]}
if [[ $MODE != l2 && $MODE != routed ]]; then
  ((${#FRAME_LIST[@]} == 1)) || { echo "e2e: -m $MODE takes one frame size" >&2; exit 1; }
fi
[[ $NDR_GEN == auto || $NDR_GEN == trafgen || $NDR_GEN == weft-bench ]] || { echo "e2e: --ndr-gen auto, trafgen or weft-bench" >&2; exit 1; }
case $MODE in
  l2) DATAPATHS=${DATAPATHS:-bridge,testpmd,weft} ;;
  routed) DATAPATHS=${DATAPATHS:-kernel,testpmd,weft} ;;
  vxlan-encap|vxlan-decap)
    DATAPATHS=${DATAPATHS:-kernel,weft}
    ((FRAME <= 1464)) || { echo "e2e: -s $FRAME: the inner frame must fit the overlay MTU 1450 (at most 1464)" >&2; exit 1; } ;;
  nat)
    DATAPATHS=${DATAPATHS:-kernel,weft}
    ((FRAME >= 60)) || { echo "e2e: -s $FRAME: nat mode frames are at least 60 bytes" >&2; exit 1; } ;;
  *) echo "e2e: -m must be l2, routed, vxlan-encap, vxlan-decap or nat" >&2; usage 1 ;;
esac
VXLAN=0; [[ $MODE == vxlan-* ]] && VXLAN=1
NAT=0; [[ $MODE == nat ]] && NAT=1
if ((NAT)) && [[ -z $NAT_SESSIONS ]]; then
  NAT_SESSIONS=$(cat /proc/sys/net/netfilter/nf_conntrack_max 2>/dev/null || echo 65536)
fi
[[ $(id -u) -eq 0 ]] || { echo "e2e: needs root" >&2; exit 1; }
TOOLS="ip trafgen taskset python3"; ((VXLAN)) && TOOLS+=" bridge"; ((NAT)) && TOOLS+=" tcpdump"
for t in $TOOLS; do
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
ROWS=$TMP/rows.tsv   # datapath <TAB> run <TAB> sink_pps <TAB> gen_pps <TAB> drop_pps [<TAB> udp_pps] |  datapath <TAB> NA <TAB> reason
# (nat mode: the datapath column is DP for the established flows, DP/new for the new-flow runs)
: >"$ROWS"
NATINFO=$TMP/nat.tsv   # nat mode: datapath <TAB> key <TAB> value (what bounds the new-flow rate)
: >"$NATINFO"
GEN_PID=""
DP_PID=""
OVSDB_PID=""   # ovs datapaths: the private ovsdb-server (DP_PID is ovs-vswitchd)
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

gen_stop() {  # stop trafgen: its parent only waits for the per-CPU children (SIGINT to it alone does
  # not stop them, and a SIGKILLed parent leaves them sending): signal the children, then the parent
  [[ -n $GEN_PID ]] || return 0
  local c
  for c in $(pgrep -P "$GEN_PID" 2>/dev/null); do kill -INT "$c" 2>/dev/null || true; done
  stop_pid "$GEN_PID" INT
  GEN_PID=""
}

dp_stop() {
  stop_pid "$DP_PID" INT
  DP_PID=""
  stop_pid "$OVSDB_PID" TERM
  OVSDB_PID=""
  exec 7>&-   # (not "exec 7>&- 2>/dev/null": that would send the script's stderr to /dev/null)
  rm -rf "/var/run/dpdk/$DPDK_PREFIX"
  if ip netns list | grep -qw "$DUT"; then ip -n "$DUT" link del br0 2>/dev/null || true; fi
}

rig_down() {
  gen_stop
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
  # weft-tap: g0 and s0 are TAP devices weftd makes when it attaches gen and sink (dp_weft-tap_start)
  if [[ $dp == weft-tap ]]; then DROP_NS=$SINK DROP_IF=s0 DROP_STAT=rx_dropped; return; fi
  DROP_NS=$DUT DROP_IF=d1 DROP_STAT=tx_dropped
  ip -n "$GEN" link add g0 type veth peer name d0 netns "$DUT"
  ip -n "$DUT" link add d1 type veth peer name s0 netns "$SINK"
  if [[ $MODE == l2 ]]; then
    ip -n "$GEN" addr add 10.77.0.1/24 dev g0
    ip -n "$SINK" addr add 10.77.0.2/24 dev s0
    ip -n "$DUT" link set d0 promisc on
    ip -n "$DUT" link set d1 promisc on
  elif [[ $MODE == vxlan-encap ]]; then
    # g0 an overlay host; d0 bridged into the overlay; d1 the underlay; s0 the remote VTEP
    ip -n "$GEN" addr add $LOCAL_IP/24 dev g0
    ip -n "$SINK" addr add 10.78.0.2/24 dev s0
    ip -n "$DUT" link set d0 promisc on
  elif [[ $MODE == vxlan-decap ]]; then
    # g0 the remote VTEP; d0 the underlay; d1 bridged into the overlay; s0 an overlay host
    ip -n "$GEN" addr add 10.77.0.2/24 dev g0
    ip -n "$SINK" addr add $LOCAL_IP/24 dev s0
    ip -n "$DUT" link set d1 promisc on
    # What the dut encapsulates back to g0 (the sink's ICMP port unreachable for the measured
    # frames, ARP floods) made g0's kernel answer "udp port 4789 unreachable" about once a second:
    # frames in g0's tx_packets that never reach s0, i.e. 1-2 frames of false loss in every NDR
    # trial. A socket on 4789 in gen that reads nothing stops that (killed with the namespace).
    (ip netns exec "$GEN" python3 -c 'import socket, signal
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("0.0.0.0", 4789)); signal.pause()' \
       </dev/null >/dev/null 2>&1 &)
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
  elif ((NAT)); then
    # the sink is "the internet": no route back to 10.77.0.0/24, only translated packets get answers
    ip -n "$GEN" route add default via 10.77.0.1 dev g0
  fi
  G0_MAC=$(cat_stat "$GEN" g0 address)
  S0_MAC=$(cat_stat "$SINK" s0 address)
  D0_MAC=$(cat_stat "$DUT" d0 address)
}

frame_bytes() {  # frame_bytes LABEL: the mean frame as handed to the kernel (1518 -> 1514; imix 4338/12)
  case $1 in imix) echo 361.5 ;; 1518) echo 1514 ;; *) echo "$1" ;; esac
}

udp_cfg() {  # udp_cfg DST_MAC SRC_MAC SRC_IP DST_IP: the trafgen config for FRAME (a size, 1518 or imix)
  case $FRAME in
    imix) "$REPO/benchmarks/trafgen-imix.sh" "$@" ;;
    *) "$REPO/benchmarks/trafgen-udp.sh" "$@" "$(frame_bytes "$FRAME")" ;;
  esac
}

traffic_cfg() {  # after the datapath is up: l2 -> s0's MAC; routed -> the dut's gateway MAC (GW_MAC)
  # vxlan-encap -> the remote overlay host; vxlan-decap -> VXLAN to the dut's VTEP MAC (VTEP_MAC)
  if [[ $MODE == l2 ]]; then
    udp_cfg "$S0_MAC" "$G0_MAC" 10.77.0.1 10.77.0.2 >"$TMP/udp.cfg"
  elif [[ $MODE == vxlan-encap ]]; then
    "$REPO/benchmarks/trafgen-udp.sh" "$REMOTE_MAC" "$G0_MAC" $LOCAL_IP $REMOTE_IP "$FRAME" >"$TMP/udp.cfg"
    probe_template
  elif [[ $MODE == vxlan-decap ]]; then
    decap_frame trafgen >"$TMP/udp.cfg"
    probe_template
  elif ((NAT)); then
    "$REPO/benchmarks/trafgen-flows.sh" "${GW_MAC:-$D0_MAC}" "$G0_MAC" 10.77.0.2 10.78.0.2 "$FRAME" \
      established $NAT_FLOWS >"$TMP/udp.cfg"
    "$REPO/benchmarks/trafgen-flows.sh" "${GW_MAC:-$D0_MAC}" "$G0_MAC" 10.77.0.2 10.78.0.2 "$FRAME" \
      new >"$TMP/new.cfg"
    probe_template
  else
    udp_cfg "${GW_MAC:-$D0_MAC}" "$G0_MAC" 10.77.0.2 10.78.0.2 >"$TMP/udp.cfg"
  fi
}

probe_template() {  # vxlan, nat modes: $TMP/probe.hex, weft-bench latency --template's frames (the
  # same as trafgen's, one per line as hex, UDP checksums 0; weft-bench puts its probe at the end of
  # the inner UDP payload): encap the overlay frame to the remote host, decap the VXLAN frame, nat
  # the NAT_FLOWS established flows (source ports 9000..; sent in turn)
  case $MODE in
    vxlan-encap) python3 "$REPO/benchmarks/vxlan-frame.py" --inner "$REMOTE_MAC" "$G0_MAC" $LOCAL_IP $REMOTE_IP \
                   --size "$FRAME" hex ;;
    vxlan-decap) decap_frame hex ;;
    nat) python3 "$REPO/benchmarks/vxlan-frame.py" --inner "${GW_MAC:-$D0_MAC}" "$G0_MAC" 10.77.0.2 10.78.0.2 \
           --size "$FRAME" --flows $NAT_FLOWS hex ;;
  esac >"$TMP/probe.hex"
}

routed_warmup() {  # routed: ping 10.78.0.2 through the datapath so every ARP entry is resolved
  # (weft drops the packet that triggers an ARP request, so the first echo may get no reply)
  local i nmac
  for i in $(seq 20); do
    ip netns exec "$GEN" ping -n -q -c 1 -W 1 10.78.0.2 >/dev/null 2>&1 && break
    if ((i == 20)); then
      REASON="no route through the datapath (ping 10.78.0.2 from gen failed)"
      ((NAT)) && REASON="ping 10.78.0.2 from gen failed (the sink answers only the masquerade address 10.78.0.1)"
      return 1
    fi
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

# ---- vxlan modes ----------------------------------------------------------------------------

decap_frame() {  # decap_frame ACTION...: the VXLAN frame gen sends in vxlan-decap (vxlan-frame.py)
  python3 "$REPO/benchmarks/vxlan-frame.py" --outer "${VTEP_MAC:-$D0_MAC}" "$G0_MAC" 10.77.0.2 10.77.0.1 \
    --vni $VNI --inner "$S0_MAC" "$REMOTE_MAC" $REMOTE_IP $LOCAL_IP --size "$FRAME" "$@"
}

udp_noports() {  # the sink's Udp NoPorts counter: UDP datagrams that passed IP/UDP checks, no socket
  # shellcheck disable=SC2016  # awk's own $ fields
  ip netns exec "$SINK" awk '$1 == "Udp:" { if (!c) { for (i = 2; i <= NF; i++) if ($i == "NoPorts") c = i }
                                            else print $c }' /proc/net/snmp
}

neigh_mac() {  # neigh_mac NS IP DEV: the MAC NS resolved IP to
  ip -n "$1" neigh show "$2" dev "$3" | awk '{for (i = 1; i < NF; i++) if ($i == "lladdr") print $(i+1)}'
}

fdb_port() {  # fdb_port MAC: the dut port MAC is learned on (kernel: br0's fdb; weft: the bridge domain)
  if [[ $dp == weft* ]]; then
    "$WEFT_BIN/weftctl" --socket "$TMP/weft.sock" show bridge-domain $WEFT_BD detail --json 2>/dev/null \
      | python3 -c 'import json, sys
d = json.load(sys.stdin)
d = d[0] if isinstance(d, list) else d
print(" ".join(m.get("interface", "?") for m in d.get("macs") or [] if m.get("mac", "").lower() == sys.argv[1].lower()))' "$1"
  else
    ip netns exec "$DUT" bridge fdb show br br0 \
      | awk -v m="${1,,}" '$1 == m && / master br0/ {for (i = 1; i < NF; i++) if ($i == "dev") print $(i+1)}'
  fi
}

vxlan_prime() {  # the hosts the measured frames go to announce themselves, so the dut knows their MAC:
  # encap: the remote host, from behind the remote VTEP (a gratuitous ARP in VXLAN from s0), so
  # REMOTE_MAC is learned on the tunnel; decap: s0 asks for 10.99.0.9 (ARP broadcast), so its MAC
  # is learned on d1. The measured traffic is then known unicast, not flooding. Sent before every
  # run too, so the MACs never age out (300 s) during a long measurement.
  if [[ $MODE == vxlan-encap ]]; then
    ip netns exec "$SINK" python3 "$REPO/benchmarks/vxlan-frame.py" \
      --outer "$VTEP_MAC" "$S0_MAC" 10.78.0.2 10.78.0.1 --vni $VNI \
      --inner ff:ff:ff:ff:ff:ff "$REMOTE_MAC" $REMOTE_IP $REMOTE_IP --arp send s0 -c 3 -i 0.05
  else
    ip netns exec "$SINK" python3 "$REPO/benchmarks/vxlan-frame.py" --arp \
      --inner ff:ff:ff:ff:ff:ff "$S0_MAC" $LOCAL_IP 10.99.0.9 send s0 -c 2 -i 0.05
  fi
}

vxlan_warmup() {  # resolve the underlay, get the overlay MACs learned, check one burst end to end
  local i port want n0 n1 sent=20
  if [[ $MODE == vxlan-encap ]]; then
    # underlay: the remote VTEP (sink) and the dut's VTEP resolve each other
    for i in $(seq 20); do
      ip netns exec "$SINK" ping -n -q -c 1 -W 1 10.78.0.1 >/dev/null 2>&1 && break
      ((i == 20)) && { REASON="underlay: ping 10.78.0.1 (the dut's VTEP) from the sink failed"; return 1; }
      sleep 0.2
    done
    VTEP_MAC=$(neigh_mac "$SINK" 10.78.0.1 s0)
    [[ -n $VTEP_MAC ]] || { REASON="the sink has no ARP entry for 10.78.0.1 after pinging it"; return 1; }
    # ARP broadcasts from g0 flood through the tunnel, so the dut resolves 10.78.0.2 if it has not
    # yet (weft drops the packet that triggers an ARP request: send a few)
    ip netns exec "$GEN" python3 "$REPO/benchmarks/vxlan-frame.py" --arp \
      --inner ff:ff:ff:ff:ff:ff "$G0_MAC" $LOCAL_IP $REMOTE_IP send g0 -c 3 -i 0.1 \
      || { REASON="cannot send ARP from g0"; return 1; }
    want=${TUNNEL_PORT:-vxlan0}
    for i in $(seq 5); do
      vxlan_prime || { REASON="cannot send the priming VXLAN frames from s0"; return 1; }
      sleep 0.2
      port=$(fdb_port "$REMOTE_MAC")
      [[ " $port " == *" $want "* ]] && break
      ((i == 5)) && { REASON="$REMOTE_MAC not learned on $want after priming (learned on: '${port:-nothing}')"; return 1; }
    done
    log "$dp: dut VTEP 10.78.0.1 is $VTEP_MAC, $REMOTE_MAC learned on $want"
    # end to end: frames from g0 to the remote host must reach s0 as valid UDP (VXLAN to 4789)
    n0=$(udp_noports)
    ip netns exec "$GEN" python3 "$REPO/benchmarks/vxlan-frame.py" \
      --inner "$REMOTE_MAC" "$G0_MAC" $LOCAL_IP $REMOTE_IP --size "$FRAME" send g0 -c $sent
  else
    for i in $(seq 20); do
      ip netns exec "$GEN" ping -n -q -c 1 -W 1 10.77.0.1 >/dev/null 2>&1 && break
      ((i == 20)) && { REASON="underlay: ping 10.77.0.1 (the dut's VTEP) from gen failed"; return 1; }
      sleep 0.2
    done
    VTEP_MAC=$(neigh_mac "$GEN" 10.77.0.1 g0)
    [[ -n $VTEP_MAC ]] || { REASON="gen has no ARP entry for 10.77.0.1 after pinging it"; return 1; }
    want=d1
    for i in $(seq 5); do
      vxlan_prime || { REASON="cannot send ARP from s0"; return 1; }
      sleep 0.2
      port=$(fdb_port "$S0_MAC")
      [[ " $port " == *" $want "* ]] && break
      ((i == 5)) && { REASON="s0's MAC $S0_MAC not learned on d1 (learned on: '${port:-nothing}')"; return 1; }
    done
    log "$dp: dut VTEP 10.77.0.1 is $VTEP_MAC, s0's MAC $S0_MAC learned on $want"
    n0=$(udp_noports)
    ip netns exec "$GEN" python3 "$REPO/benchmarks/vxlan-frame.py" --outer "$VTEP_MAC" "$G0_MAC" \
      10.77.0.2 10.77.0.1 --vni $VNI --inner "$S0_MAC" "$REMOTE_MAC" $REMOTE_IP $LOCAL_IP --size "$FRAME" \
      send g0 -c $sent
  fi
  sleep 0.3
  n1=$(udp_noports)
  if ((n1 - n0 < sent / 2)); then
    REASON="only $((n1 - n0)) of $sent test frames reached s0 as valid UDP (Udp NoPorts)"; return 1
  fi
  log "$dp: s0 counted $((n1 - n0)) valid UDP datagrams for $sent test frames"
}

cat_stat() {  # cat_stat NS IF FILE  (sysfs as seen inside NS: ip netns exec remounts /sys)
  case $3 in
    address) ip netns exec "$1" cat "/sys/class/net/$2/address" ;;
    *) ip netns exec "$1" cat "/sys/class/net/$2/statistics/$3" ;;
  esac
}

measure() {  # measure [TRAFGEN_CFG]: prints "sink_pps gen_pps sink_drop_pps" (vxlan modes: and "sink_udp_noports_pps")
  ip netns exec "$GEN" taskset -c 0 trafgen -i "${1:-$TMP/udp.cfg}" -o g0 -q -P 1 \
    >"$TMP/trafgen.log" 2>&1 &
  GEN_PID=$!
  sleep "$WARMUP"
  kill -0 "$GEN_PID" 2>/dev/null || { log "trafgen died: $(tail -5 "$TMP/trafgen.log")"; return 1; }
  local t0 s0 g0 d0 t1 s1 g1 d1 u0=0 u1=0
  s0=$(cat_stat "$SINK" s0 rx_packets); g0=$(cat_stat "$GEN" g0 tx_packets)
  d0=$(cat_stat "$DROP_NS" "$DROP_IF" "$DROP_STAT"); ((VXLAN)) && u0=$(udp_noports); t0=$(date +%s.%N)
  sleep "$DURATION"
  s1=$(cat_stat "$SINK" s0 rx_packets); g1=$(cat_stat "$GEN" g0 tx_packets)
  d1=$(cat_stat "$DROP_NS" "$DROP_IF" "$DROP_STAT"); ((VXLAN)) && u1=$(udp_noports); t1=$(date +%s.%N)
  kill -0 "$GEN_PID" 2>/dev/null || { log "trafgen died: $(tail -5 "$TMP/trafgen.log")"; return 1; }
  gen_stop
  # d1 tx_dropped: frames the dut sent that the veth could not queue into s0's backlog
  # (full), i.e. forwarded but lost on the sink side.
  # vxlan modes: s0's Udp NoPorts counts the frames that arrived as valid IPv4/UDP (VXLAN to 4789
  # in encap, the inner frame to port 9 in decap), i.e. that the datapath built them right.
  python3 -c 'import sys; s0,s1,g0,g1,d0,d1,t0,t1,u0,u1=map(float,sys.argv[1:-1]); dt=t1-t0
print(round((s1-s0)/dt), round((g1-g0)/dt), round((d1-d0)/dt), *([round((u1-u0)/dt)] if sys.argv[-1] == "1" else []))' \
    "$s0" "$s1" "$g0" "$g1" "$d0" "$d1" "$t0" "$t1" "$u0" "$u1" "$VXLAN"
}

# ---- datapaths: dp_<name>_start sets DP_PID (if a process) or returns 1 with REASON set -----

REASON=""

dp_none_start() { :; }

dp_kernel_start() {  # routed: Linux IPv4 forwarding in dut (the CNI bridge plugin / flannel host-gw path)
  ((VXLAN)) && { dp_kernel_vxlan_start; return; }
  ip netns exec "$DUT" sysctl -q -w net.ipv4.ip_forward=1 || { REASON="sysctl ip_forward failed"; return 1; }
  ip -n "$DUT" addr add 10.77.0.1/24 dev d0 && ip -n "$DUT" addr add 10.78.0.1/24 dev d1 \
    || { REASON="cannot address d0/d1"; return 1; }
  GW_MAC=$D0_MAC
  ((NAT)) && { dp_kernel_nat_start; return; }
  return 0
}

dp_kernel_nat_start() {  # nat: iptables MASQUERADE of 10.77.0.0/24 out of d1 (Docker's, the CNI
  # bridge plugin's ipMasq), conntrack's UDP timeouts set to NAT_UDP_TIMEOUT in the dut's netns
  command -v iptables >/dev/null || { REASON="iptables not installed (Debian package iptables, scripts/install-deps.sh)"; return 1; }
  local out
  if ! out=$(ip netns exec "$DUT" iptables -t nat -A POSTROUTING -s 10.77.0.0/24 -o d1 -j MASQUERADE 2>&1); then
    REASON="iptables MASQUERADE failed: ${out//$'\n'/ }"; return 1
  fi
  IPT_BACKEND=$(iptables -V 2>/dev/null | sed -n 's/.*(\(.*\)).*/\1/p'); IPT_BACKEND=${IPT_BACKEND:-legacy}
  if ! ip netns exec "$DUT" sysctl -q -w net.netfilter.nf_conntrack_udp_timeout="$NAT_UDP_TIMEOUT" \
      net.netfilter.nf_conntrack_udp_timeout_stream="$NAT_UDP_TIMEOUT"; then
    REASON="cannot set nf_conntrack_udp_timeout in the dut (no conntrack?)"; return 1
  fi
  nat_info conntrack_max "$(ip netns exec "$DUT" cat /proc/sys/net/netfilter/nf_conntrack_max)"
  nat_info iptables "$(iptables -V 2>/dev/null)"
  log "kernel: $(iptables -V) (backend $IPT_BACKEND), MASQUERADE 10.77.0.0/24 -o d1, nf_conntrack_max $(ip netns exec "$DUT" cat /proc/sys/net/netfilter/nf_conntrack_max) (global), UDP timeout ${NAT_UDP_TIMEOUT}s"
}

nat_snapshot() {  # nat_snapshot before|after: the dut's NAT state around the new-flow runs (NATINFO)
  local v
  case $dp in
    weft) v=$(weft_nat_stat) || v=""; nat_info "weft_$1" "$v"; log "weft NAT $1 the new-flow runs: sessions created refusedSessionLimit refusedOutOfPorts maxSessions = ${v:-?}" ;;
    kernel) v=$(ct_stat) || v=""; nat_info "ct_$1" "$v"; log "kernel conntrack $1 the new-flow runs: count drop early_drop insert_failed = ${v:-?}" ;;
  esac
  return 0
}

nat_info() { printf '%s\t%s\t%s\n' "$dp" "$1" "$2" >>"$NATINFO"; }

ct_stat() {  # ct_stat: "count drop early_drop insert_failed" of the dut's conntrack (summed over CPUs)
  local count
  if command -v conntrack >/dev/null; then
    count=$(ip netns exec "$DUT" conntrack -C 2>/dev/null) || count=""
  fi
  [[ -n ${count:-} ]] || count=$(ip netns exec "$DUT" cat /proc/sys/net/netfilter/nf_conntrack_count)
  ip netns exec "$DUT" python3 - "$count" <<'PY'
import sys
rows = [l.split() for l in open("/proc/net/stat/nf_conntrack")]
head, rows = rows[0], rows[1:]
tot = lambda k: sum(int(r[head.index(k)], 16) for r in rows) if k in head else 0
print(sys.argv[1], tot("drop"), tot("early_drop"), tot("insert_failed"))
PY
}

weft_nat_stat() {  # weft_nat_stat: "sessions created refusedSessionLimit refusedOutOfPorts maxSessions"
  "$WEFT_BIN/weftctl" --socket "$TMP/weft.sock" show nat statistics --json 2>/dev/null | python3 -c 'import json, sys
d = json.load(sys.stdin)
print(*(d.get(k, 0) for k in ("sessions", "created", "refusedSessionLimit", "refusedOutOfPorts", "maxSessions")))'
}

nat_verify() {  # nat: s0 must see the masqueraded source 10.78.0.1 only (tcpdump -c 5 in sink)
  local cap=$TMP/tcpdump.txt srcs i
  ip netns exec "$SINK" timeout 5 tcpdump -nn -l -i s0 -c 5 'udp and dst host 10.78.0.2' >"$cap" 2>"$TMP/tcpdump.err" &
  local tpid=$!
  for i in $(seq 30); do grep -q 'listening on' "$TMP/tcpdump.err" 2>/dev/null && break; sleep 0.1; done
  ip netns exec "$GEN" trafgen -i "$TMP/udp.cfg" -o g0 -q -P 1 -n 20 >/dev/null 2>&1 || true
  wait "$tpid" 2>/dev/null || true
  srcs=$(awk '$2 == "IP" {n = split($3, a, "."); print a[1] "." a[2] "." a[3] "." a[4]}' "$cap" | sort | uniq -c | tr -s ' \n' ' ')
  cp "$cap" "$RAW/$dp-tcpdump-sink.txt" 2>/dev/null || true
  if [[ $(awk '$2 == "IP"' "$cap" | wc -l) -lt 5 ]]; then
    REASON="tcpdump in sink saw only $(awk '$2 == "IP"' "$cap" | wc -l) of 5 UDP packets to 10.78.0.2 (sources: ${srcs:-none})"; return 1
  fi
  if awk '$2 == "IP" {print $3}' "$cap" | grep -qv '^10\.78\.0\.1\.'; then
    REASON="s0 saw untranslated sources: $srcs"; return 1
  fi
  log "$dp: s0 sees source 10.78.0.1 only (tcpdump: $srcs)"
}

dp_kernel_vxlan_start() {  # vxlan modes: the kernel's vxlan device in a Linux bridge
  local under=d1 over=d0 local_ip=10.78.0.1 remote_ip=10.78.0.2
  [[ $MODE == vxlan-decap ]] && { under=d0; over=d1; local_ip=10.77.0.1; remote_ip=10.77.0.2; }
  ip -n "$DUT" addr add $local_ip/24 dev $under || { REASON="cannot address $under"; return 1; }
  ip -n "$DUT" link add vxlan0 type vxlan id $VNI local $local_ip remote $remote_ip dstport 4789 dev $under \
    || { REASON="cannot create vxlan0 (kernel without CONFIG_VXLAN?)"; return 1; }
  ip -n "$DUT" link add br0 type bridge stp_state 0 forward_delay 0
  ip -n "$DUT" link set $over master br0
  ip -n "$DUT" link set vxlan0 master br0
  ip -n "$DUT" link set vxlan0 up
  ip -n "$DUT" link set br0 up
}

na_reason() {  # na_reason DATAPATH: why it does not apply in this mode (empty if it does)
  case $MODE:$1 in
    routed:testpmd) echo "n/a in routed mode (io forwarding does not route)" ;;
    routed:bridge) echo "n/a in routed mode (a bridge does not route; see kernel)" ;;
    l2:kernel) echo "n/a in l2 mode (the kernel's L2 datapath is bridge)" ;;
    vxlan-*:testpmd) echo "n/a in $MODE mode (io forwarding does not encapsulate or decapsulate)" ;;
    vxlan-*:bridge) echo "n/a in $MODE mode (the kernel datapath, kernel, is vxlan0 in a bridge)" ;;
    nat:testpmd) echo "n/a in nat mode (io forwarding does not translate)" ;;
    nat:bridge) echo "n/a in nat mode (a bridge does not route; see kernel)" ;;
    vxlan-*:weft-xdp*|nat:weft-xdp*) echo "n/a in $MODE mode (the uplink is af-packet only)" ;;
    routed:weft-tap|vxlan-*:weft-tap|nat:weft-tap) echo "n/a in $MODE mode (measured in l2 mode)" ;;
    routed:ovs*|vxlan-*:ovs*|nat:ovs*) echo "n/a in $MODE mode (not built: OVS is measured as an L2 switch, flows NORMAL)" ;;
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

# Open vSwitch, userspace (netdev) datapath. A private ovsdb-server and ovs-vswitchd: database,
# pid files, logs and control sockets under $TMP/ovs (OVS_RUNDIR/OVS_DBDIR/OVS_LOGDIR point there
# too), so nothing touches a system OVS; ovs-vswitchd runs in the dut namespace, pinned to CPU 1
# (taskset; pmd-cpu-mask 0x2 for the PMD thread afxdp ports get). Bridge br0 datapath_type=netdev
# with d0 and d1, the default flow (actions=NORMAL: MAC learning). OVS_PORT_TYPE: system (netdev-
# linux: AF_PACKET sockets, polled by the main thread) or afxdp (xdp-mode native: copy mode on veths).
OVS_PORT_TYPE=system
dp_ovs_start() {
  local b
  for b in ovsdb-tool ovsdb-server ovs-vswitchd ovs-vsctl ovs-appctl; do
    command -v $b >/dev/null || { REASON="$b not installed (Debian package openvswitch-switch, scripts/install-deps.sh)"; return 1; }
  done
  local schema=/usr/share/openvswitch/vswitch.ovsschema o=$TMP/ovs out
  [[ -r $schema ]] || { REASON="no $schema (openvswitch-common)"; return 1; }
  rm -rf "$o"; mkdir -p "$o"
  export OVS_RUNDIR=$o OVS_DBDIR=$o OVS_LOGDIR=$o OVS_SYSCONFDIR=$o
  ovsdb-tool create "$o/conf.db" "$schema" >>"$RAW/ovs.log" 2>&1 || { REASON="ovsdb-tool create failed"; return 1; }
  ovsdb-server "$o/conf.db" --remote="punix:$o/db.sock" --pidfile="$o/ovsdb-server.pid" \
    --unixctl="$o/ovsdb-server.ctl" --log-file="$RAW/ovsdb-server.log" --no-chdir >>"$RAW/ovs.log" 2>&1 &
  OVSDB_PID=$!
  local i
  for i in $(seq 50); do [[ -S $o/db.sock ]] && break; sleep 0.1; done
  [[ -S $o/db.sock ]] || { REASON="ovsdb-server did not start: $(tail -1 "$RAW/ovsdb-server.log" 2>/dev/null)"; return 1; }
  ovsv --no-wait init || return 1
  ovsv --no-wait set Open_vSwitch . other_config:pmd-cpu-mask=0x2 || return 1
  ip netns exec "$DUT" taskset -c 1 ovs-vswitchd "unix:$o/db.sock" --pidfile="$o/ovs-vswitchd.pid" \
    --unixctl="$o/ovs-vswitchd.ctl" --log-file="$RAW/ovs-vswitchd.log" --no-chdir >>"$RAW/ovs.log" 2>&1 &
  DP_PID=$!
  for i in $(seq 100); do
    [[ -S $o/ovs-vswitchd.ctl ]] && break
    kill -0 "$DP_PID" 2>/dev/null || { REASON="ovs-vswitchd exited: $(tail -1 "$RAW/ovs-vswitchd.log" 2>/dev/null)"; DP_PID=""; return 1; }
    sleep 0.1
  done
  [[ -S $o/ovs-vswitchd.ctl ]] || { REASON="ovs-vswitchd not ready after 10 s"; return 1; }
  ovsv --timeout=20 add-br br0 -- set bridge br0 datapath_type=netdev \
    -- add-port br0 d0 -- add-port br0 d1 || return 1
  if [[ $OVS_PORT_TYPE == afxdp ]]; then
    ovsv --timeout=20 set interface d0 type=afxdp options:xdp-mode=native \
      -- set interface d1 type=afxdp options:xdp-mode=native || return 1
  fi
  local ifn err
  for ifn in d0 d1; do
    for i in $(seq 50); do
      err=$(ovsv get interface $ifn error 2>/dev/null) || err=""
      [[ -n $err && $err != "[]" ]] && { REASON="ovs port $ifn (type $OVS_PORT_TYPE): $err (log: $(grep -E 'ERR|WARN' "$RAW/ovs-vswitchd.log" | tail -1))"; return 1; }
      [[ $(ovsv get interface $ifn ofport 2>/dev/null) =~ ^[1-9] ]] && break
      ((i == 50)) && { REASON="ovs port $ifn has no OpenFlow port after 5 s"; return 1; }
      sleep 0.1
    done
  done
  # one forwarding check: gen pings the sink through br0 (learns both MACs)
  for i in $(seq 10); do
    ip netns exec "$GEN" ping -n -q -c 1 -W 1 10.77.0.2 >/dev/null 2>&1 && break
    ((i == 10)) && { REASON="ping 10.77.0.2 through the OVS bridge failed"; return 1; }
    sleep 0.2
  done
  log "$dp: ovs-vswitchd $(ovs-vswitchd --version | head -1 | awk '{print $NF}'), br0 netdev datapath, d0/d1 type $OVS_PORT_TYPE, flows: $(ovs_ctl_out ofctl dump-flows br0 --no-stats | grep -v NXST | tr -s ' ' | tr '\n' ' ')"
}
dp_ovs-afxdp_start() { OVS_PORT_TYPE=afxdp dp_ovs_start; }

ovsv() {  # ovsv ARGS...: ovs-vsctl against our ovsdb-server; REASON on failure
  local out
  if ! out=$(ovs-vsctl --db="unix:$TMP/ovs/db.sock" "$@" 2>&1); then
    REASON="ovs-vsctl $* failed: ${out//$'\n'/ }"; return 1
  fi
  printf '$ ovs-vsctl %s\n%s\n' "$*" "$out" >>"$RAW/ovs.log"
  [[ -z $out ]] || echo "$out"
}

ovs_ctl_out() {  # ovs_ctl_out ofctl|appctl ARGS...: ovs-ofctl (br0's management socket) / ovs-appctl
  local what=$1; shift
  if [[ $what == ofctl ]]; then
    local cmd=$1 br=$2; shift 2
    ovs-ofctl "$cmd" "unix:$TMP/ovs/$br.mgmt" "$@" 2>&1
  else
    ovs-appctl -t "$TMP/ovs/ovs-vswitchd.ctl" "$@" 2>&1
  fi
}

dp_ovs_report() {  # keep OVS's own view of the run
  local c
  { echo "## ovs-vsctl show"; ovs-vsctl --db="unix:$TMP/ovs/db.sock" show 2>&1
    for c in "ofctl dump-flows br0" "ofctl dump-ports br0" "appctl dpif-netdev/pmd-stats-show" \
      "appctl dpif-netdev/pmd-rxq-show" "appctl fdb/show br0" "appctl dpctl/dump-flows" "appctl coverage/show"; do
      # shellcheck disable=SC2086  # $c is a command line: split it
      echo "## $c"; ovs_ctl_out $c; echo
    done; } >>"$RAW/$dp-show.txt" 2>&1
}

dp_weft_start() {
  local b
  for b in weftd weftctl; do
    [[ -x $WEFT_BIN/$b ]] || { REASON="$WEFT_BIN/$b not built"; return 1; }
  done
  local sock=$TMP/weft.sock
  rm -f "$TMP/weft.db" "$sock"
  local -a conf=()
  if ((NAT)); then  # the session table is sized at start: weftd's configuration file
    printf 'nat_max_sessions: %s\n' "$NAT_SESSIONS" >"$TMP/weftd.yaml"
    conf=(--config "$TMP/weftd.yaml")
  fi
  ip netns exec "$DUT" "$WEFT_BIN/weftd" "${conf[@]}" --socket "$sock" --state "$TMP/weft.db" \
    --worker-cpu 1 --poll-mode busy ${WEFT_EXTRA:-} >"$RAW/weftd.log" 2>&1 &
  DP_PID=$!
  local i
  for i in $(seq 100); do
    "$WEFT_BIN/weftctl" --socket "$sock" show interfaces >/dev/null 2>&1 && break
    kill -0 "$DP_PID" 2>/dev/null || { REASON="weftd exited: $(tail -1 "$RAW/weftd.log")"; DP_PID=""; return 1; }
    ((i == 100)) && { REASON="weftd not ready after 10 s"; return 1; }
    sleep 0.1
  done
  ((VXLAN)) && { dp_weft_vxlan_start; return; }
  ((NAT)) && { dp_weft_nat_start; return; }
  local out net subnet bd ifs ifn
  if ((WEFT_TAP)); then
    # g0 and s0 attached by tap (sink first: it gets 10.77.0.2, trafgen's destination address).
    # No source guard: trafgen's frames come from 10.77.0.1, and the af-packet rig's host
    # interfaces are not guarded either.
    "$WEFT_BIN/weftctl" --socket "$sock" network create bench --subnet 10.77.0.0/24 --bridge-domain $WEFT_BD \
      >>"$RAW/weftctl.log" 2>&1 || { REASON="weftctl network create bench failed"; return 1; }
    local side ns
    for side in "$SINK s0 sink" "$GEN g0 gen"; do
      read -r ns ifn net <<<"$side"
      if ! out=$("$WEFT_BIN/weftctl" --socket "$sock" attach --container "bench-$net" --netns "/var/run/netns/$ns" \
          --ifname "$ifn" --network bench --attach tap --no-source-guard 2>&1); then
        REASON="weftctl attach --attach tap $ifn failed: ${out//$'\n'/ }"; return 1
      fi
      echo "$out" >>"$RAW/weftctl.log"
    done
    G0_MAC=$(cat_stat "$GEN" g0 address)
    S0_MAC=$(cat_stat "$SINK" s0 address)
    return 0
  fi
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
      if [[ $WEFT_DRIVER == af-packet ]]; then
        if ! out=$("$WEFT_BIN/weftctl" --socket "$sock" interface add "$ifn" --network "$net" 2>&1); then
          REASON="weftctl interface add $ifn failed: ${out//$'\n'/ }"; return 1
        fi
      elif ! out=$(weft_api_add_if "$ifn" "$net" "$WEFT_DRIVER" 2>&1); then
        REASON="POST /v1/interfaces $ifn driver $WEFT_DRIVER failed: ${out//$'\n'/ }"; return 1
      fi
      echo "$out" >>"$RAW/weftctl.log"
    done
  done
  if [[ $MODE == routed ]]; then weft_gw_mac; fi
}

weft_api_add_if() {  # weft_api_add_if IFNAME NETWORK DRIVER: POST /v1/interfaces with a driver (af-xdp)
  python3 - "$TMP/weft.sock" "$@" <<'PY'
import http.client, json, socket, sys
sock, name, net, driver = sys.argv[1:5]
class C(http.client.HTTPConnection):
    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); self.sock.connect(sock)
c = C("localhost")
c.request("POST", "/v1/interfaces", json.dumps({"name": name, "network": net, "driver": driver}),
          {"Content-Type": "application/json"})
r = c.getresponse(); body = r.read().decode()
print(body)
sys.exit(0 if r.status < 300 else 1)
PY
}

dp_weft-xdp_start() { WEFT_DRIVER=af-xdp dp_weft_start; }
dp_weft-tap_start() { WEFT_TAP=1 dp_weft_start; }
dp_weft-xdp-generic_start() { WEFT_DRIVER=af-xdp WEFT_EXTRA="--xdp-mode generic" dp_weft_start; }

weft_gw_mac() {  # GW_MAC: trafgen's destination, the gen-side gateway's MAC (the BVI of bridge domain $WEFT_BD)
  local sock=$TMP/weft.sock
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
}

dp_weft_nat_start() {  # nat: uplink d1 10.78.0.1/24 (s0 is on link: no gateway), gen-net masqueraded
  local ifn
  for ifn in d0 d1; do ip netns exec "$DUT" ethtool -K "$ifn" tso off gso off >/dev/null 2>&1 || true; done
  wctl uplink set d1 --address 10.78.0.1/24 || return 1
  wctl network create gen-net --subnet 10.77.0.0/24 --bridge-domain $WEFT_BD --masquerade || return 1
  wctl interface add d0 --network gen-net || return 1
  wctl nat config --udp-timeout "$NAT_UDP_TIMEOUT" || return 1
  wctl nat config --json || return 1
  local max range
  read -r max range < <(python3 -c 'import json, sys; d = json.loads(sys.argv[1]); print(d.get("maxSessions", "?"), d.get("portRange", "?"))' \
    "$WCTL_OUT" 2>/dev/null) || true
  nat_info max_sessions "${max:-?}"
  nat_info port_range "${range:-?}"
  log "weft: uplink d1 10.78.0.1/24, gen-net 10.77.0.0/24 masquerade, nat_max_sessions ${max:-?}, ports ${range:-?}, UDP timeout ${NAT_UDP_TIMEOUT}s"
  weft_gw_mac
}

wctl() {  # wctl ARGS...: weftctl against our weftd; output to weftctl.log and WCTL_OUT, REASON on failure
  local out
  if ! out=$("$WEFT_BIN/weftctl" --socket "$TMP/weft.sock" "$@" 2>&1); then
    REASON="weftctl $* failed: ${out//$'\n'/ }"; return 1
  fi
  printf '$ weftctl %s\n%s\n' "$*" "$out" >>"$RAW/weftctl.log"
  WCTL_OUT=$out
}

dp_weft_vxlan_start() {  # vxlan modes: uplink on the underlay port, network "bench" with a VNI, one tunnel
  local under=d1 over=d0 local_ip=10.78.0.1 remote_ip=10.78.0.2 ifn
  [[ $MODE == vxlan-decap ]] && { under=d0; over=d1; local_ip=10.77.0.1; remote_ip=10.77.0.2; }
  for ifn in d0 d1; do ip netns exec "$DUT" ethtool -K "$ifn" tso off gso off >/dev/null 2>&1 || true; done
  wctl uplink set $under --address $local_ip/24 || return 1
  wctl network create bench --subnet 10.99.0.0/24 --vni $VNI --bridge-domain $WEFT_BD || return 1
  wctl interface add $over --network bench || return 1
  wctl tunnel add --network bench --remote $remote_ip --json || return 1
  TUNNEL_PORT=$(python3 -c 'import json, sys; print(json.loads(sys.argv[1])["name"])' "$WCTL_OUT" 2>/dev/null) \
    || { REASON="no tunnel name in: ${WCTL_OUT//$'\n'/ }"; return 1; }
}

dp_weft_report() {  # keep weft's own view of the run
  local sock=$TMP/weft.sock c
  local -a cmds=("show runtime" "show interfaces" "show errors" "show bridge-domain $WEFT_BD detail")
  [[ $MODE == routed ]] && cmds+=("show bridge-domain $((WEFT_BD + 1)) detail" "show neighbors" "show fib")
  ((VXLAN)) && cmds+=("show vxlan tunnels" "uplink show" "show neighbors" "show fib")
  ((NAT)) && cmds+=("show nat statistics" "nat config" "show nat sessions --limit 20" "uplink show" "show neighbors" "show fib")
  for c in "${cmds[@]}"; do
    { echo "## weftctl $c"; "$WEFT_BIN/weftctl" --socket "$sock" $c 2>&1; echo; } >>"$RAW/weft-show.txt"
  done
  if ((VXLAN)); then  # the tunnel's counters and the drops, on the console too
    for c in "show vxlan tunnels" "show errors"; do
      log "weftctl $c:"
      # shellcheck disable=SC2086  # $c is a command line: split it
      "$WEFT_BIN/weftctl" --socket "$sock" $c 2>&1 | sed 's/^/    /' >&2 || true
    done
  fi
  if ((NAT)); then  # the NAT's counters, the drops and where the worker spends its time, on the console too
    for c in "show nat statistics" "show errors" "show runtime"; do
      log "weftctl $c:"
      # shellcheck disable=SC2086  # $c is a command line: split it
      "$WEFT_BIN/weftctl" --socket "$sock" $c 2>&1 | sed 's/^/    /' >&2 || true
    done
  fi
}

# ---- NDR (--ndr) and latency (--latency) -----------------------------------------------------

summ() { printf '%s\t%s\t%s\t%s\n' "$dp" "$FRAME" "$1" "$2" >>"$SUMMARY"; }   # summ KEY VALUE

lat_endpoints() {  # "DST_MAC SRC_IP DST_IP" of the measured frames (as trafgen's)
  if [[ $MODE == l2 ]]; then echo "$S0_MAC 10.77.0.1 10.77.0.2"; else echo "${GW_MAC:-$D0_MAC} 10.77.0.2 10.78.0.2"; fi
}

lat_run() {  # lat_run RATE SECONDS: weft-bench latency through the datapath; prints its JSON object
  local mac sip dip out
  read -r mac sip dip <<<"$(lat_endpoints)"
  # vxlan, nat modes: the mode's own frames (probe_template) instead of weft-bench's plain UDP
  local -a frames=(--dst-mac "$mac" --src-ip "$sip" --dst-ip "$dip")
  local -a size=(--frame-size "$([[ $FRAME == imix ]] && echo imix || echo $(($(frame_bytes "$FRAME") + 4)))")
  [[ $MODE == l2 || $MODE == routed ]] || { frames=(--template "$TMP/probe.hex"); size=(); }
  # WB_PIN: taskset CPU list for the whole weft-bench process (empty: its own placement, the
  # sender on CPU 0, the receiver wherever the scheduler puts it)
  local -a pin=()
  [[ -z ${WB_PIN:-} ]] || pin=(taskset -c "$WB_PIN")
  if ! out=$(timeout $(($2 + 20)) "${pin[@]}" "$WEFT_BIN/weft-bench" latency --tx-netns "/var/run/netns/$GEN" --tx-if g0 \
      --rx-netns "/var/run/netns/$SINK" --rx-if s0 "${frames[@]}" \
      --rate "$1" --duration "$2" "${size[@]}" ${WB_EXTRA:-} --json 2>>"$RAW/weft-bench-latency.log"); then
    log "$dp $FRAME: weft-bench latency --rate $1 failed (log: $(tail -1 "$RAW/weft-bench-latency.log" 2>/dev/null))"
    return 1
  fi
  printf '%s %s %s: %s\n' "$dp" "$FRAME" "$1" "$out" >>"$RAW/weft-bench-latency.log"
  out=$(grep '^{' <<<"$out" | tail -1)
  python3 -c 'import json, sys; json.loads(sys.argv[1])' "$out" 2>/dev/null || { log "$dp $FRAME: no JSON from weft-bench latency"; return 1; }
  echo "$out"
}

ndr_gen() {  # the NDR generator for FRAME: weft-bench (paced) if it can send this frame, else trafgen
  # (the vxlan/nat modes need a weft-bench with --template, WB_TEMPLATE, for their own frames;
  # imix needs a weft-bench with --frame-size imix, LAT_IMIX)
  if [[ ($FRAME != imix || $LAT_IMIX == 1) && ($MODE == l2 || $MODE == routed || $WB_TEMPLATE == 1) && ($NDR_GEN == weft-bench || ($NDR_GEN == auto && $WB_OK == 1)) ]]; then
    echo weft-bench; else echo trafgen; fi
}

ndr_trial() {  # ndr_trial RATE: one window at RATE pps; prints "sent received offered_pps"
  # sent = g0's tx_packets delta, received = s0's rx_packets delta (kernel counters, whichever
  # generator: weft-bench's own "received" would also count drops at its receiving socket)
  local rate=$1 n=$((rate * NDR_WINDOW)) g0 s0 g1 s1 t0 t1 i
  g0=$(cat_stat "$GEN" g0 tx_packets); s0=$(cat_stat "$SINK" s0 rx_packets); t0=$(date +%s.%N)
  if [[ $(ndr_gen) == weft-bench ]]; then
    local js
    # NDR trials: weft-bench entirely on CPU 0 (WEFT_BENCH_NDR_CPUS), so its receiving thread does not
    # take CPU 1 from the datapath; it then offers at most ~150 k pps here (flagged generator-bound)
    # (a weft-bench with --tx-only, send without receiving, is used that way: loss comes from the counters)
    js=$(WB_PIN=${WEFT_BENCH_NDR_CPUS-0} WB_EXTRA=$WB_TXONLY lat_run "$rate" "$NDR_WINDOW") || return 1
    sleep 0.3
    g1=$(cat_stat "$GEN" g0 tx_packets); s1=$(cat_stat "$SINK" s0 rx_packets)
    python3 -c 'import json, sys; d = json.loads(sys.argv[1]); print(int(sys.argv[3]) - int(sys.argv[2]), int(sys.argv[5]) - int(sys.argv[4]), round(d.get("rate_pps") or 0))' \
      "$js" "$g0" "$g1" "$s0" "$s1"
    return
  fi
  ip netns exec "$GEN" taskset -c 0 trafgen -i "$TMP/udp.cfg" -o g0 -q -P 1 -b "${rate}pps" -n "$n" \
    >"$TMP/trafgen.log" 2>&1 &
  GEN_PID=$!
  for i in $(seq $(((NDR_WINDOW + 10) * 20))); do kill -0 "$GEN_PID" 2>/dev/null || break; sleep 0.05; done
  t1=$(date +%s.%N)
  if kill -0 "$GEN_PID" 2>/dev/null; then log "trafgen -b ${rate}pps -n $n did not finish in time"; gen_stop; return 1; fi
  wait "$GEN_PID" 2>/dev/null || { log "trafgen failed: $(tail -3 "$TMP/trafgen.log")"; GEN_PID=""; return 1; }
  GEN_PID=""
  sleep 0.3   # what is still queued in the datapath drains
  g1=$(cat_stat "$GEN" g0 tx_packets); s1=$(cat_stat "$SINK" s0 rx_packets)
  python3 -c 'import sys; g0, g1, s0, s1, t0, t1 = map(float, sys.argv[1:]); print(int(g1 - g0), int(s1 - s0), round((g1 - g0) / (t1 - t0)))' \
    "$g0" "$g1" "$s0" "$s1" "$t0" "$t1"
}

ndr_search() {  # ndr_search MAX_PPS: binary search for the highest rate with loss <= NDR_LOSS %
  # first trial at MAX (the measured throughput: the upper bound), then halving [lo, hi]; stops
  # after NDR_ITER trials or when hi - lo < 1 % of MAX. Records ndr_* in SUMMARY.
  local max=$1 lo=0 hi=$1 i rate res sent recv off pass best=0 best_off=0 trials=0
  for i in $(seq "$NDR_ITER"); do
    if ((i == 1)); then rate=$hi; else rate=$(((lo + hi) / 2)); fi
    ((rate > 0)) || break
    res=$(ndr_trial "$rate") || { summ ndr_note "trial at $rate pps failed"; return 1; }
    read -r sent recv off <<<"$res"
    trials=$((trials + 1))
    pass=$(python3 -c 'import sys; s, r, tol = float(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
print(1 if s > 0 and (s - r) <= s * tol / 100 else 0)' "$sent" "$recv" "$NDR_LOSS")
    log "$dp $FRAME NDR trial $i: ${rate} pps requested, offered $off pps, sent $sent received $recv lost $((sent - recv)) -> $([[ $pass == 1 ]] && echo pass || echo fail)"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$dp" "$FRAME" "$i" "$rate" "$off" "$sent" "$recv" >>"$RAW/ndr-trials.tsv"
    if ((pass)); then
      lo=$rate; best=$rate; best_off=$off
      if ((off * 100 < rate * 95)); then   # the generator did not reach the rate: the NDR is at least this
        summ ndr_note "generator-bound: $(ndr_gen) offered $off of $rate pps requested"
        log "$dp $FRAME: the generator offered only $off of $rate pps: NDR >= $off (generator-bound)"
        break
      fi
      ((i == 1)) && break
    else
      hi=$rate
    fi
    ((hi - lo < max / 100)) && break
  done
  summ ndr_rate "$best"; summ ndr_pps "$best_off"; summ ndr_trials "$trials"; summ ndr_hi "$hi"; summ ndr_gen "$(ndr_gen)"
  NDR_PPS=$best_off NDR_RATE=$best
}

latency_levels() {  # weft-bench latency at LAT_LEVELS % of the NDR (the rate offered in its best trial)
  local lvl rate js
  if ((! LAT_OK)); then summ lat_note "$LAT_WHY"; return 0; fi
  if [[ $FRAME == imix ]] && ((! LAT_IMIX)); then summ lat_note "not measured for imix (this weft-bench latency has no --frame-size imix)"; return 0; fi
  ((NDR_PPS > 0)) || { summ lat_note "no NDR"; return 0; }
  # vxlan: the overlay MACs learned afresh (the NDR search took a while; they age out in 300 s)
  if ((VXLAN)); then vxlan_prime || log "$dp: priming before the latency runs failed"; fi
  for lvl in $LAT_LEVELS; do
    rate=$((NDR_PPS * lvl / 100)); ((rate > 0)) || rate=1
    if js=$(WB_PIN=${WEFT_BENCH_CPUS:-} lat_run "$rate" "$LAT_DURATION"); then
      summ "lat_$lvl" "$js"
      log "$dp $FRAME latency at $lvl % of NDR ($rate pps): $js"
    else
      summ "lat_$lvl" "{}"
    fi
  done
}

LAT_OK=0 LAT_IMIX=0 LAT_WHY="" WB_OK=0 WB_TXONLY="" WB_TEMPLATE=0
if ((LATENCY)) || [[ $NDR_GEN != trafgen ]]; then
  if [[ ! -x $WEFT_BIN/weft-bench ]]; then
    LAT_WHY="skipped: $WEFT_BIN/weft-bench not built"
  elif ! lathelp=$("$WEFT_BIN/weft-bench" latency --help 2>&1) || ! grep -q -- '--tx-netns' <<<"$lathelp"; then
    LAT_WHY="skipped: $WEFT_BIN/weft-bench has no latency subcommand yet"
  else
    LAT_OK=1 WB_OK=1; grep -qi imix <<<"$lathelp" && LAT_IMIX=1
    grep -q -- '--tx-only' <<<"$lathelp" && WB_TXONLY=--tx-only
    grep -q -- '--template' <<<"$lathelp" && WB_TEMPLATE=1
    # vxlan, nat modes: weft-bench must send the mode's frames (--template)
    if [[ $MODE != l2 && $MODE != routed ]] && ((! WB_TEMPLATE)); then
      LAT_OK=0 LAT_WHY="skipped: this weft-bench latency has no --template (needed for the $MODE mode's frames)"
    fi
  fi
  ((LAT_OK)) || log "weft-bench latency: $LAT_WHY"
  if [[ $NDR_GEN == weft-bench ]] && ((! LAT_OK)); then
    echo "e2e: --ndr-gen weft-bench: $LAT_WHY" >&2; exit 1
  fi
  ((LATENCY)) || LAT_OK=0   # (weft-bench as the NDR generator only)
  ((LATENCY)) && ((! LAT_OK)) && LAT_WHY=${LAT_WHY:-skipped}
fi
SUMMARY=$TMP/summary.tsv   # datapath <TAB> frame <TAB> key <TAB> value (NDR, latency)
: >"$SUMMARY"
: >"$RAW/ndr-trials.tsv"

rows_file() { echo "$TMP/rows-$1.tsv"; }
for f in "${FRAME_LIST[@]}"; do : >"$(rows_file "$f")"; done
na_row() {  # na_row DATAPATH REASON: the datapath is not available (for every frame size)
  local f
  for f in "${FRAME_LIST[@]}"; do printf '%s\tNA\t%s\n' "$1" "$2" >>"$(rows_file "$f")"; done
}

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
log "load average $LOAD_BEFORE"
log "rig $GEN/$DUT/$SINK, mode $MODE, frames ${FRAMES}, ${DURATION}s x $RUNS runs, datapaths $DATAPATHS$( ((NDR)) && echo ", NDR: $NDR_GEN, loss <= $NDR_LOSS %, $NDR_ITER x ${NDR_WINDOW}s")$( ((LATENCY)) && echo ", latency ${LAT_DURATION}s at $LAT_LEVELS % of NDR")"
IFS=, read -r -a DPS <<<"$DATAPATHS"
for dp in "${DPS[@]}"; do
  declare -F "dp_${dp}_start" >/dev/null || { echo "e2e: unknown datapath $dp" >&2; exit 1; }
done

for dp in "${DPS[@]}"; do
  REASON=$(na_reason "$dp")
  if [[ -n $REASON ]]; then
    log "$dp: $REASON"
    na_row "$dp" "$REASON"
    continue
  fi
  rig_up
  GW_MAC="" VTEP_MAC="" TUNNEL_PORT=""
  FRAME=${FRAME_LIST[0]}
  if ! "dp_${dp}_start" || { ((VXLAN)) && [[ $dp != none ]] && ! vxlan_warmup; } || ! traffic_cfg \
      || { [[ ($MODE == routed || $MODE == nat) && $dp != none ]] && ! routed_warmup; } \
      || { ((NAT)) && [[ $dp != none ]] && ! nat_verify; }; then
    log "$dp: not available ($REASON)"
    na_row "$dp" "$REASON"
    # vxlan, nat modes: weft's view of a failed setup or priming helps more than the reason alone
    if ((VXLAN || NAT)) && [[ $dp == weft && -n $DP_PID ]]; then dp_weft_report; fi
    if [[ $dp == ovs* ]]; then dp_ovs_report; fi
  else
    for FRAME in "${FRAME_LIST[@]}"; do
    traffic_cfg
    ROWS=$(rows_file "$FRAME")
    # nat: the established flows (row DP), then a new flow every frame (row DP/new)
    phases=est; ((NAT)) && phases="est new"
    for phase in $phases; do
      cfg=$TMP/udp.cfg row=$dp
      if [[ $phase == new ]]; then
        cfg=$TMP/new.cfg row=$dp/new
        nat_snapshot before
      fi
      ok=1 sinks=""
      for r in $(seq "$RUNS"); do
        if ((VXLAN)) && [[ $dp != none ]]; then vxlan_prime || log "$dp: priming before run $r failed"; fi
        # (trafgen sometimes dies with "Flushing TX_RING failed: Resource temporarily unavailable" when
        # d0 has a native XDP program: one retry)
        if res=$(measure "$cfg") || { log "$row $FRAME run $r: retrying once"; res=$(measure "$cfg"); }; then
          read -r sink gen drop udp <<<"$res"
          sinks+=" $sink"
          if ((VXLAN)); then
            log "$dp run $r: sink $sink pps ($udp/s valid UDP), generator $gen pps, d1 tx_dropped $drop/s"
            printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$dp" "$r" "$sink" "$gen" "$drop" "$udp" >>"$ROWS"
          else
            log "$row${FRAME_LIST[1]:+ $FRAME} run $r: sink $sink pps, generator $gen pps, d1 tx_dropped $drop/s"
            printf '%s\t%s\t%s\t%s\t%s\n' "$row" "$r" "$sink" "$gen" "$drop" >>"$ROWS"
          fi
        else
          REASON="generator failed: $(grep -v '^ *$' "$TMP/trafgen.log" | tail -1)"; printf '%s\tNA\t%s\n' "$row" "$REASON" >>"$ROWS"; ok=0; break
        fi
        if [[ -n $DP_PID ]] && ! kill -0 "$DP_PID" 2>/dev/null; then
          log "$dp: datapath process died during run $r"
          printf '%s\tNA\t%s\n' "$row" "datapath process died during run $r" >>"$ROWS"; ok=0; break
        fi
      done
      # (after a short pause: the datapath drains what is still queued in its rx ring)
      if [[ $phase == new ]]; then sleep 0.5; nat_snapshot after; fi
      [[ $phase == est ]] && est_sinks=$sinks   # the NDR searches the established flows
      ((ok)) || break
    done
    if ((ok && NDR)) && [[ $dp != none ]]; then
      # the search's upper bound: the median sink pps of the throughput runs
      max=$(python3 -c 'import statistics, sys; print(round(statistics.median(map(int, sys.argv[1:]))))' $est_sinks)
      NDR_PPS=0 NDR_RATE=0
      if ((max > 0)) && ndr_search "$max"; then
        log "$dp $FRAME: NDR $NDR_PPS pps (requested $NDR_RATE pps, loss <= $NDR_LOSS %)"
        ((LATENCY)) && latency_levels
      fi
      if [[ -n $DP_PID ]] && ! kill -0 "$DP_PID" 2>/dev/null; then
        log "$dp: datapath process died during the NDR/latency runs"; summ ndr_note "datapath process died"; break
      fi
    fi
    if ((! ok)); then   # the frame sizes not measured yet
      for f in "${FRAME_LIST[@]}"; do
        [[ -s $(rows_file "$f") ]] && grep -q "^$dp"$'\t' "$(rows_file "$f")" && continue
        printf '%s\tNA\t%s\n' "$dp" "skipped: the run at frame size $FRAME failed" >>"$(rows_file "$f")"
      done
      break
    fi
    done
    if [[ $dp == weft* ]]; then dp_weft_report; fi
    if [[ $dp == ovs* ]]; then dp_ovs_report; fi
  fi
  dp_stop
  rig_down
done

# vxlan, nat modes: the peers not run (testpmd, OVS) get a row saying why, instead of being missing
if ((VXLAN || NAT)); then
  for dp in testpmd ovs; do
    [[ ,$DATAPATHS, == *,$dp,* ]] && continue
    na_row "$dp" "$(na_reason "$dp")"; DPS+=("$dp")
  done
fi

# ---- report ---------------------------------------------------------------------------------
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
case $MODE in
  l2) what="E2E L2 forwarding" ;;
  routed) what="E2E routed IPv4 forwarding (10.77.0.2 -> 10.78.0.2 through the dut's gateways)" ;;
  vxlan-encap) what="E2E VXLAN encapsulation, VNI $VNI (overlay $LOCAL_IP -> $REMOTE_IP, known unicast to the tunnel; outer 10.78.0.1 -> 10.78.0.2:4789, $((FRAME + 50))-byte frames on d1)" ;;
  nat) what="E2E NAT44 masquerade (10.77.0.0/24 behind 10.78.0.1 -> 10.78.0.2, no route back from the sink), UDP timeout ${NAT_UDP_TIMEOUT} s on both datapaths" ;;
  vxlan-decap) what="E2E VXLAN decapsulation, VNI $VNI (outer 10.77.0.2 -> 10.77.0.1:4789, $((FRAME + 50))-byte frames on g0; overlay $REMOTE_IP -> $LOCAL_IP, known unicast to d1)" ;;
esac
inner=""; ((VXLAN)) && inner="inner "
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
frame_desc() {  # frame_desc LABEL
  case $1 in
    imix) echo "IMIX (64/594/1518-byte 7:4:1, 1518 sent as 1514, mean 361.5 bytes)" ;;
    1518) echo "1518-byte (sent as 1514: the veth MTU)" ;;
    *) echo "$1-byte" ;;
  esac
}
make_header() {
  header="load average before: $LOAD_BEFORE, after: $LOAD_AFTER (other work on the machine skews these numbers). $what, $(frame_desc "$FRAME") ${inner}UDP frames, trafgen 1 process on CPU 0, ${DURATION} s x ${RUNS} runs; $(date '+%Y-%m-%d %H:%M'); kernel $(uname -r); $(nproc) CPUs ($cpu)"
}
make_header
nat_table() {  # the nat mode's report: established flows and new flows, what bounds the latter
  python3 - "$ROWS" "$NATINFO" "$header" "$NAT_FLOWS" "$NAT_UDP_TIMEOUT" "${DPS[@]}" <<'PY'
import statistics, sys
rows_path, info_path, header, nflows, timeout, order = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]), sys.argv[6:]
labels = {"none": "nothing forwarding (generator ceiling)",
          "kernel": "Linux forwarding + iptables MASQUERADE (conntrack)",
          "weft": "weftd NAT44 masquerade via the BVI (worker CPU 1, busy poll)"}
runs, na, info = {}, {}, {}
for line in open(rows_path):
    f = line.rstrip("\n").split("\t")
    if f[1] == "NA":
        na[f[0]] = f[2]
    else:
        runs.setdefault(f[0], []).append((int(f[2]), int(f[3]), int(f[4])))
for line in open(info_path):
    f = line.rstrip("\n").split("\t")
    if len(f) == 3:
        info.setdefault(f[0], {})[f[1]] = f[2]
def k(v):
    return f"{v/1e6:.2f} M" if v >= 1e6 else f"{v/1e3:.0f} k" if v >= 1e4 else f"{v/1e3:.1f} k" if v else "0"
def nums(dp, key):
    try:
        return [int(x) for x in info.get(dp, {}).get(key, "").split()]
    except ValueError:
        return []
def bound(dp):
    if dp == "none":
        return "-"
    if dp == "weft":
        b, a = nums(dp, "weft_before"), nums(dp, "weft_after")
        mx = info.get(dp, {}).get("max_sessions", "?")
        text = f"session table {mx}, UDP timeout {timeout} s: about {mx}/{timeout} new flows/s sustained at most (a live session is never evicted, only an expired one reused)"
        if len(a) == 5:
            text += f"; after: {a[0]} sessions"
            if len(b) == 5:
                text += f"; during the new-flow runs: created +{a[1]-b[1]}, refused session-limit +{a[2]-b[2]}, out-of-ports +{a[3]-b[3]}"
        return text + f"; outside ports {info.get(dp, {}).get('port_range', '?')} per remote endpoint"
    if dp == "kernel":
        b, a = nums(dp, "ct_before"), nums(dp, "ct_after")
        mx = info.get(dp, {}).get("conntrack_max", "?")
        text = f"nf_conntrack_max {mx} (global, not settable per netns), UDP timeout {timeout} s; a full table early-drops unreplied entries, so no hard bound"
        if len(a) == 4:
            text += f"; after: {a[0]} entries"
            if len(b) == 4:
                text += f"; during the new-flow runs: drop +{a[1]-b[1]}, early_drop +{a[2]-b[2]}, insert_failed +{a[3]-b[3]}"
        ipt = info.get(dp, {}).get("iptables")
        return text + (f"; {ipt}" if ipt else "")
    return "-"
def table(suffix, title, col, extra):
    ref = statistics.median(s for s, _, _ in runs["kernel" + suffix]) if runs.get("kernel" + suffix) else None
    print(f"**{title}**\n")
    print(f"| datapath | {col} median (min-max) | generator pps median | ratio vs kernel | d1 tx_dropped/s |" + (" what bounds it |" if extra else ""))
    print("|---|---|---|---|---|" + ("---|" if extra else ""))
    for dp in order:
        name, r = labels.get(dp, dp), runs.get(dp + suffix, [])
        tail = f" {bound(dp)} |" if extra else ""
        if r:
            sinks = [s for s, _, _ in r]
            med = statistics.median(sinks)
            ratio = "-" if dp == "none" else (f"{med/ref:.2f}" if ref else "n/a")
            note = f" (incomplete: {na[dp + suffix]})" if dp + suffix in na else ""
            print(f"| {name} | {k(med)} ({k(min(sinks))}-{k(max(sinks))}){note} | {k(statistics.median(g for _, g, _ in r))} | {ratio} | {k(statistics.median(d for _, _, d in r))} |{tail}")
        else:
            reason = na.get(dp + suffix) or na.get(dp, "no data")
            print(f"| {name} | {reason if reason.startswith('n/a') else f'not available ({reason})'} | - | - | - |" + (" - |" if extra else ""))
    print()
print(f"_{header}_\n")
table("", f"Established flows: {nflows} UDP flows round robin (translation of known sessions), sink pps", "sink pps", False)
table("/new", "New flows: a new UDP 5-tuple every frame (connection setup), sink pps = translated new flows/s", "new flows/s at sink", True)
print("The new-flow frames cycle through 253 source addresses x 64512 source/destination ports (a 5-tuple")
print("repeats after 16.3 M frames); the destination port varies so that neither datapath runs out of")
print("outside ports towards one remote endpoint. Both datapaths hold each unreplied UDP flow for the same")
print("UDP timeout; weft never evicts a live session (refused: session-limit), conntrack early-drops.")
print()
print("raw runs (datapath[/new], run, sink pps, generator pps, d1 tx_dropped/s):")
for dp in order:
    for suffix in ("", "/new"):
        for i, (s, g, d) in enumerate(runs.get(dp + suffix, []), 1):
            print(f"    {dp}{suffix} {i} {s} {g} {d}")
PY
}

frame_table() {  # frame_table ROWS HEADER: the throughput table of one frame size
python3 - "$1" "$2" "$MODE" "${DPS[@]}" <<'PY'
import statistics, sys
rows_path, header, mode, order = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
labels = {"none": "nothing forwarding (generator ceiling)", "bridge": "Linux bridge br0 (d0, d1)",
          "testpmd": "dpdk-testpmd io, 2x net_af_packet", "weft": "weftd (worker CPU 1, busy poll)",
          "weft-xdp": "weftd, d0/d1 af-xdp native copy (worker CPU 1, busy poll)",
          "weft-tap": "weftd, g0/s0 TAP devices weftd serves, no veths (worker CPU 1, busy poll)",
          "weft-xdp-generic": "weftd, d0/d1 af-xdp generic copy (worker CPU 1, busy poll)",
          "ovs": "Open vSwitch netdev datapath, d0/d1 type system (AF_PACKET), NORMAL, CPU 1",
          "ovs-afxdp": "Open vSwitch netdev datapath, d0/d1 type afxdp (native copy), NORMAL, PMD CPU 1"}
if mode == "routed":
    labels.update({"kernel": "Linux IPv4 forwarding (ip_forward=1, d0 10.77.0.1, d1 10.78.0.1)",
                   "weft": "weftd routing gen-net -> sink-net via BVIs (worker CPU 1, busy poll)"})
vxlan = mode.startswith("vxlan-")
if vxlan:
    labels.update({"kernel": "Linux vxlan0 + bridge br0 (the kernel VXLAN flannel uses)",
                   "weft": "weftd VXLAN (worker CPU 1, busy poll)"})
refdp = "kernel" if mode == "routed" or vxlan else "testpmd"
runs, na, udp = {}, {}, {}
for line in open(rows_path):
    f = line.rstrip("\n").split("\t")
    if f[1] == "NA":
        na[f[0]] = f[2]
    else:
        runs.setdefault(f[0], []).append((int(f[2]), int(f[3]), int(f[4])))
        if len(f) > 5:
            udp.setdefault(f[0], []).append(int(f[5]))
def k(v):
    return f"{v/1e6:.2f} M" if v >= 1e6 else f"{v/1e3:.0f} k"
ref = statistics.median(s for s, _, _ in runs[refdp]) if runs.get(refdp) else None
print(f"_{header}_\n")
if vxlan:
    print(f"| datapath | sink pps median (min-max) | generator pps median | ratio vs {refdp} | d1 tx_dropped/s | valid UDP at s0/s |")
    print("|---|---|---|---|---|---|")
else:
    print(f"| datapath | sink pps median (min-max) | generator pps median | ratio vs {refdp} | d1 tx_dropped/s |")
    print("|---|---|---|---|---|")
extra = lambda dp: f" {k(statistics.median(udp[dp]))} |" if vxlan and udp.get(dp) else (" - |" if vxlan else "")
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
        print(f"| {name} | {k(med)} ({k(min(sinks))}-{k(max(sinks))}){note} | {k(statistics.median(gens))} | {ratio} | {k(statistics.median(drops))} |{extra(dp)}")
    else:
        reason = na.get(dp, "no data")
        print(f"| {name} | {reason if reason.startswith('n/a') else f'not available ({reason})'} | - | - | - |{extra(dp)}")
print()
if vxlan:
    print("valid UDP at s0: the delta of s0's Udp NoPorts (/proc/net/snmp), i.e. frames that arrived as")
    print("well-formed IPv4/UDP (encap: VXLAN to 4789, no socket there; decap: the inner frame to port 9).")
    print()
print("raw runs (datapath, run, sink pps, generator pps, d1 tx_dropped/s" + (", valid UDP at s0/s):" if vxlan else "):"))
for dp in order:
    for i, (s, g, d) in enumerate(runs.get(dp, []), 1):
        print(f"    {dp} {i} {s} {g} {d}" + (f" {udp[dp][i - 1]}" if vxlan and len(udp.get(dp, [])) >= i else ""))
PY
}

summary_table() {  # one row per datapath x frame size: max, NDR, Gbit/s, ratio, latency; CSV/JSON
  E2E_WB_TEMPLATE=$WB_TEMPLATE python3 - "$TMP" "$SUMMARY" "$MODE" "$FRAMES" "$NDR" "$NDR_GEN" "$NDR_LOSS" "$NDR_ITER" "$NDR_WINDOW" \
    "$LATENCY" "$LAT_LEVELS" "$LAT_DURATION" "${LAT_WHY:-}" "$CSV_OUT" "$JSON_OUT" "${DPS[@]}" <<'PY'
import csv, json, os, statistics, sys
(tmp, summ_path, mode, frames, ndr, ndr_gen, ndr_loss, ndr_iter, ndr_window, latency, levels,
 lat_dur, lat_why, csv_out, json_out), order = sys.argv[1:16], sys.argv[16:]
frames, levels, ndr, latency = frames.split(","), levels.split(), ndr == "1", latency == "1"
refdp = "testpmd" if mode == "l2" else "kernel"   # (vxlan, nat: testpmd does not apply)
def fbytes(f):
    return 361.5 if f == "imix" else 1514 if f == "1518" else float(f)
def gbps(pps, f):  # the Ethernet line rate: frame as sent + 4 FCS + 8 preamble/SFD + 12 IFG
    return pps * (fbytes(f) + 24) * 8 / 1e9 if pps is not None else None
runs, na = {}, {}
for f in frames:
    for line in open(f"{tmp}/rows-{f}.tsv"):
        x = line.rstrip("\n").split("\t")
        if x[1] == "NA":
            na[(x[0], f)] = x[2]
        else:
            runs.setdefault((x[0], f), []).append((int(x[2]), int(x[3])))
info = {}
for line in open(summ_path):
    x = line.rstrip("\n").split("\t", 3)
    if len(x) == 4:
        info.setdefault((x[0], x[1]), {})[x[2]] = x[3]
rows = []
for f in frames:
    for dp in order:
        r, i = runs.get((dp, f)), info.get((dp, f), {})
        row = {"datapath": dp, "frame": f, "frame_bytes": fbytes(f), "max_pps": None, "gen_pps": None,
               "gbps": None, "ratio_vs_" + refdp: None, "ndr_pps": None, "ndr_gbps": None,
               "ndr_ratio_vs_" + refdp: None, "ndr_loss_pct": float(ndr_loss) if ndr else None,
               "ndr_trials": None, "note": na.get((dp, f), "")}
        for lvl in levels:
            for q in ("p50", "p99"):
                row[f"lat{lvl}_{q}_us"] = None
        if r:
            row["max_pps"] = round(statistics.median(s for s, _ in r))
            row["gen_pps"] = round(statistics.median(g for _, g in r))
            row["gbps"] = round(gbps(row["max_pps"], f), 3)
        if "ndr_pps" in i:
            row["ndr_pps"] = int(i["ndr_pps"]); row["ndr_gbps"] = round(gbps(row["ndr_pps"], f), 3)
            row["ndr_trials"] = int(i.get("ndr_trials", 0)); row["ndr_gen"] = i.get("ndr_gen")
            row["ndr_lowest_fail"] = int(i["ndr_hi"]) if row["ndr_pps"] == 0 and i.get("ndr_hi") else None
        if "ndr_note" in i:
            row["ndr_note"] = i["ndr_note"]
            row["ndr_generator_bound"] = i["ndr_note"].startswith("generator-bound")
        for lvl in levels:
            js = i.get(f"lat_{lvl}")
            if js:
                d = json.loads(js)
                row[f"lat{lvl}_p50_us"], row[f"lat{lvl}_p99_us"] = d.get("p50_us"), d.get("p99_us")
                row[f"lat{lvl}_lost"] = d.get("lost")
        if latency and "lat_note" in i:
            row["lat_note"] = i["lat_note"]
        rows.append(row)
for row in rows:
    ref = next((x for x in rows if x["datapath"] == refdp and x["frame"] == row["frame"]), None)
    for key, rk in (("max_pps", "ratio_vs_" + refdp), ("ndr_pps", "ndr_ratio_vs_" + refdp)):
        if ref and ref[key] and row[key] and row["datapath"] != "none":   # (no ratio for an NDR of 0)
            row[rk] = round(row[key] / ref[key], 2)
def k(v):
    return "-" if v is None else f"{v/1e6:.2f} M" if v >= 1e6 else f"{v/1e3:.0f} k" if v >= 1e4 else f"{v/1e3:.1f} k"
def g(v):
    return "-" if v is None else f"{v:.2f}" if v >= 0.1 else f"{v:.3f}"
def lat(row, lvl):
    p50, p99 = row.get(f"lat{lvl}_p50_us"), row.get(f"lat{lvl}_p99_us")
    if p50 is None:
        return "-"
    lost = row.get(f"lat{lvl}_lost")
    return f"{p50:.0f} / {p99:.0f}" + (f" ({lost} lost)" if lost else "")
print("**Summary" + (": NDR" if ndr else "") + (" and latency" if latency else "") + "**\n")
if ndr:
    gen = {"trafgen": "trafgen -b RATEpps", "weft-bench": "weft-bench latency --rate (paced)",
           "auto": "weft-bench latency --rate (paced) where it can send the frame, trafgen -b RATEpps for the vxlan and nat modes (their own frames) or without weft-bench"}[ndr_gen]
    if mode not in ("l2", "routed") and ndr_gen != "trafgen":
        gen = ("weft-bench latency --rate (paced) with the mode's frames (--template)" if os.environ.get("E2E_WB_TEMPLATE") == "1"
               else "trafgen -b RATEpps (this weft-bench latency has no --template for the mode's frames)")
    gen += (" (the generator per row is in the trials column; trafgen -b holds the rate on average over each second but sends it "
            "in bursts at its full speed, which datapaths with small socket buffers cannot absorb: see benchmarks/README.md)")
    print(f"NDR: highest offered rate with loss <= {ndr_loss} % (loss = g0 tx_packets - s0 rx_packets over a "
          f"{ndr_window} s trial, counted after the generator stopped and the datapath drained), binary search "
          f"from the measured max, at most {ndr_iter} trials, generator {gen}. ", end="")
print("Gbit/s: pps x (frame as sent + 4 FCS + 20 preamble/IFG) x 8, the Ethernet line rate of those frames.", end="")
if latency:
    print(f" Latency: weft-bench latency (it sends and receives, no trafgen) for {lat_dur} s at "
          + ", ".join(f"{l} %" for l in levels) + " of the NDR, p50 / p99 in µs." if not lat_why else f" Latency: {lat_why}.", end="")
print("\n")
head = ["datapath", "frame", "max pps", "Gbit/s", f"ratio vs {refdp}"]
if ndr:
    head += ["NDR pps", "NDR Gbit/s", f"NDR vs {refdp}", "trials, generator"]
if latency:
    head += [f"p50 / p99 µs at {l} % NDR" for l in levels]
print("| " + " | ".join(head) + " |")
print("|" + "---|" * len(head))
for row in rows:
    if row["max_pps"] is None:
        reason = row["note"] or "no data"
        cells = [row["datapath"], row["frame"], reason if reason.startswith("n/a") else f"not available ({reason})"]
        cells += ["-"] * (len(head) - len(cells))
    else:
        rr = row["ratio_vs_" + refdp]
        cells = [row["datapath"], row["frame"], k(row["max_pps"]), g(row["gbps"]), "-" if rr is None else f"{rr:.2f}"]
        if ndr:
            nr = row["ndr_ratio_vs_" + refdp]
            if nr is not None and row["datapath"] != refdp:   # a generator-bound NDR is a lower bound
                refrow = next((x for x in rows if x["datapath"] == refdp and x["frame"] == row["frame"]), {})
                mine, theirs = bool(row.get("ndr_generator_bound")), bool(refrow.get("ndr_generator_bound"))
                nr = f"{nr:.2f}" if mine == theirs == False else f">= {nr:.2f}" if mine and not theirs else f"<= {nr:.2f}" if theirs and not mine else "?"
            elif nr is not None:
                nr = f"{nr:.2f}"
            ndr_cell = f"< {k(row['ndr_lowest_fail'])} (every trial lost frames)" if row.get("ndr_lowest_fail") else k(row["ndr_pps"])
            cells += [(">= " if row.get("ndr_generator_bound") else "") + ndr_cell + ("" if row.get("ndr_generator_bound") or not row.get("ndr_note") else " (*)"),
                      g(row["ndr_gbps"]),
                      "-" if nr is None else nr, f"{row['ndr_trials']}, {row.get('ndr_gen')}" if row["ndr_trials"] else "-"]
        if latency:
            cells += [lat(row, l) for l in levels]
    print("| " + " | ".join(cells) + " |")
bound = [f'{r["datapath"]} {r["frame"]}: {r["ndr_note"]}' for r in rows if r.get("ndr_note")]
if bound:
    print("\nNDR notes (>= : the generator could not offer more; the datapath lost nothing at that rate): " + "; ".join(bound) + ".")
notes = sorted({r["lat_note"] for r in rows if r.get("lat_note")})
if notes:
    print("\nLatency not measured: " + "; ".join(notes) + ".")
if mode == "nat" and ndr:
    print("\nnat: NDR" + (" and latency are" if latency else " is") + " of the established flows (the 256-flow frames, sent in turn); "
          "the new-flow variant (a new 5-tuple every frame, 16.3 M before one repeats) has neither: it cannot be "
          "one template file of weft-bench latency, and trafgen -b would measure its bursts.")
cols = list(rows[0].keys()) if rows else []
for r in rows:
    for c in r:
        if c not in cols:
            cols.append(c)
if csv_out:
    with open(csv_out, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=cols, restval="")
        w.writeheader()
        for r in rows:
            w.writerow({c: ("" if r.get(c) is None else r.get(c)) for c in cols})
if json_out:
    with open(json_out, "w") as fh:
        json.dump({"mode": mode, "reference": refdp, "ndr": {"enabled": ndr, "generator": ndr_gen, "loss_pct": float(ndr_loss),
                   "max_trials": int(ndr_iter), "window_s": float(ndr_window)},
                   "latency": {"enabled": latency, "levels_pct": [int(l) for l in levels], "duration_s": float(lat_dur),
                               "note": lat_why}, "rows": rows}, fh, indent=1)
PY
}

if ((NAT)); then
  ROWS=$(rows_file "$FRAME")
  TABLE=$(nat_table)
  # the NDR of the established flows (the row named after the datapath)
  if ((NDR)); then TABLE+=$'\n\n'$(summary_table); fi
else
  TABLE=""
  for FRAME in "${FRAME_LIST[@]}"; do
    make_header
    ((${#FRAME_LIST[@]} > 1)) && TABLE+="**$(frame_desc "$FRAME") frames: throughput**"$'\n\n'
    TABLE+=$(frame_table "$(rows_file "$FRAME")" "$header")$'\n\n'
  done
  if ((NDR || ${#FRAME_LIST[@]} > 1)) || [[ -n $CSV_OUT$JSON_OUT ]]; then
    TABLE+=$(summary_table)
  fi
fi
echo
echo "$TABLE"
if ((SAVE)); then
  kind=e2e; [[ $MODE != l2 ]] && kind=e2e-$MODE
  out=$RESULTS/$(date +%Y-%m-%d)-$kind.md
  [[ -e $out ]] && out=$RESULTS/$STAMP-$kind.md
  if [[ $MODE == l2 ]]; then
    { echo "# E2E benchmark $STAMP"; echo; echo "Command: \`benchmarks/e2e.sh $CMDLINE\`"; echo; echo "$TABLE"; } >"$out"
  elif ((NAT)); then
    { echo "# E2E NAT44 (masquerade) benchmark $STAMP"; echo; echo "Command: \`benchmarks/e2e.sh $CMDLINE\`"; echo
      echo "$TABLE"; } >"$out"
  else
    { echo "# E2E ${MODE/vxlan-/VXLAN } benchmark $STAMP"; echo; echo "Command: \`benchmarks/e2e.sh $CMDLINE\`"; echo
      echo "$TABLE"; } >"$out"
  fi
  for f in "${FRAME_LIST[@]}"; do cp "$(rows_file "$f")" "$RAW/rows-$f.tsv"; done
  cp "$SUMMARY" "$RAW/summary.tsv"
  ((NAT)) && cp "$NATINFO" "$RAW/nat.tsv"
  log "table written to $out (logs in $RAW)"
fi
[[ -z $CSV_OUT ]] || log "summary CSV: $CSV_OUT"
[[ -z $JSON_OUT ]] || log "summary JSON: $JSON_OUT"
el=$(($(date +%s) - T_START))
log "elapsed $((el / 60)) min $((el % 60)) s"
