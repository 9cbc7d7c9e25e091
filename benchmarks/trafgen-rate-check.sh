#!/usr/bin/env bash
# How accurately does trafgen -b (rate limit) hold the requested rate here? e2e.sh --ndr relies on it.
#
# Builds two namespaces weft-bench-gen-<random> / weft-bench-sink-<random> joined by one veth
# (g0 <-> s0, nothing in between), then for each requested rate runs
#   taskset -c 0 trafgen -i CFG -o g0 -q -P 1 -b <RATE>pps -n <RATE x SECONDS>
# and reports the rate g0's tx_packets grew at over the middle of the run (0.5 s after the start
# to 0.5 s before the end: no process start-up or tail) and over the whole run (count / wall time,
# start-up included), each against the request. Removes the namespaces on exit.
#
# Usage: benchmarks/trafgen-rate-check.sh [-t SECONDS] [-s FRAME_BYTES] [RATE...]
#   defaults: 3 s, 64-byte frames, rates 10000 20000 50000 100000 200000 300000 400000 (pps)
set -euo pipefail
SECS=3 FRAME=64
while (($#)); do
  case $1 in
    -t) SECS=$2; shift 2 ;;
    -s) FRAME=$2; shift 2 ;;
    -h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) break ;;
  esac
done
RATES=("$@"); ((${#RATES[@]})) || RATES=(10000 20000 50000 100000 200000 300000 400000)
[[ $(id -u) -eq 0 ]] || { echo "trafgen-rate-check: needs root" >&2; exit 1; }
REPO=$(cd "$(dirname "$0")/.." && pwd)
SUFFIX=$(head -c3 /dev/urandom | od -An -tx1 | tr -d ' \n')
GEN=weft-bench-gen-$SUFFIX SINK=weft-bench-sink-$SUFFIX
TMP=$(mktemp -d /tmp/weft-bench-XXXXXX)
cleanup() { set +e
  local ns pid
  for ns in "$GEN" "$SINK"; do
    if ip netns list | grep -qw "$ns"; then
      for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$pid" 2>/dev/null; done
      ip netns del "$ns"
    fi
  done
  rm -rf "$TMP"; }
trap cleanup EXIT
trap 'exit 130' INT TERM
for ns in "$GEN" "$SINK"; do
  ip netns add "$ns"; ip -n "$ns" link set lo up
  ip netns exec "$ns" sysctl -q -w net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
done
ip -n "$GEN" link add g0 type veth peer name s0 netns "$SINK"
ip -n "$GEN" addr add 10.77.0.1/24 dev g0; ip -n "$SINK" addr add 10.77.0.2/24 dev s0
ip -n "$GEN" link set g0 up; ip -n "$SINK" link set s0 up
stat() { ip netns exec "$1" cat "/sys/class/net/$2/statistics/$3"; }
"$REPO/benchmarks/trafgen-udp.sh" "$(ip netns exec "$SINK" cat /sys/class/net/s0/address)" \
  "$(ip netns exec "$GEN" cat /sys/class/net/g0/address)" 10.77.0.1 10.77.0.2 "$FRAME" >"$TMP/udp.cfg"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg); ${FRAME}-byte frames, ${SECS} s per rate"
printf '%10s %12s %8s %12s %8s %10s\n' requested mid-run_pps error whole_pps error sink_rx
for r in "${RATES[@]}"; do
  n=$((r * SECS)); a0=$(stat "$GEN" g0 tx_packets); s0=$(stat "$SINK" s0 rx_packets); t0=$(date +%s.%N)
  ip netns exec "$GEN" taskset -c 0 trafgen -i "$TMP/udp.cfg" -o g0 -q -P 1 -b "${r}pps" -n "$n" >"$TMP/tg.log" 2>&1 &
  pid=$!
  sleep 0.5; m0=$(stat "$GEN" g0 tx_packets); u0=$(date +%s.%N)
  sleep "$(python3 -c "print(max(0.1, $SECS - 1.0))")"; m1=$(stat "$GEN" g0 tx_packets); u1=$(date +%s.%N)
  wait "$pid" || { echo "trafgen failed: $(tail -3 "$TMP/tg.log")" >&2; exit 1; }
  t1=$(date +%s.%N); a1=$(stat "$GEN" g0 tx_packets); sleep 0.2; s1=$(stat "$SINK" s0 rx_packets)
  python3 -c 'import sys
r, m0, m1, u0, u1, a0, a1, t0, t1, s0, s1 = map(float, sys.argv[1:])
mid, whole = (m1 - m0) / (u1 - u0), (a1 - a0) / (t1 - t0)
print(f"{r:10.0f} {mid:12.0f} {100 * (mid / r - 1):+7.1f}% {whole:12.0f} {100 * (whole / r - 1):+7.1f}% {s1 - s0:10.0f}")' \
    "$r" "$m0" "$m1" "$u0" "$u1" "$a0" "$a1" "$t0" "$t1" "$s0" "$s1"
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
