#!/usr/bin/env bash
# Weft demo: one node namespace running weftd, two "container" namespaces on one network.
# Pings at 56/1400/1472 bytes, 5 s of iperf3 TCP, then the dataplane's own view of it.
# Everything it creates is named weft-demo-*-<random> and removed on exit, even on failure.
# Usage: scripts/demo.sh        (root; binaries from $WEFT_BIN, default .build/release)
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
WEFT_BIN=${WEFT_BIN:-$REPO/.build/release}
SUFFIX=$(head -c3 /dev/urandom | od -An -tx1 | tr -d ' \n')
NODE=weft-demo-node-$SUFFIX
C1=weft-demo-c1-$SUFFIX
C2=weft-demo-c2-$SUFFIX
TMP=$(mktemp -d /tmp/weft-demo-XXXXXX)
SOCK=$TMP/weft.sock
WEFTD_PID=""

cleanup() {
  local rc=$?
  set +e
  if [[ -n $WEFTD_PID ]] && kill -0 "$WEFTD_PID" 2>/dev/null; then
    kill "$WEFTD_PID"
    for _ in $(seq 50); do kill -0 "$WEFTD_PID" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$WEFTD_PID" 2>/dev/null
    wait "$WEFTD_PID" 2>/dev/null
  fi
  for ns in "$C1" "$C2" "$NODE"; do
    if ip netns list | grep -qw "$ns"; then
      for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$pid" 2>/dev/null; done
      ip netns del "$ns"
    fi
  done
  if ((rc != 0)) && [[ -f $TMP/weftd.log ]]; then
    echo "--- weftd log (last 40 lines) ---"; tail -n 40 "$TMP/weftd.log"
  fi
  rm -rf "$TMP"
  echo "demo: cleaned up (exit $rc)"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

[[ $(id -u) -eq 0 ]] || { echo "demo: needs root" >&2; exit 1; }
for b in weftd weftctl; do
  [[ -x $WEFT_BIN/$b ]] || { echo "demo: $WEFT_BIN/$b missing (make build)" >&2; exit 1; }
done

ctl() { "$WEFT_BIN/weftctl" --socket "$SOCK" "$@"; }
step() { printf '\n== %s\n' "$*"; }

step "namespaces: node $NODE, containers $C1 $C2"
for ns in "$NODE" "$C1" "$C2"; do
  ip netns add "$ns"
  ip -n "$ns" link set lo up
done

step "weftd in $NODE (state and socket in $TMP)"
ip netns exec "$NODE" "$WEFT_BIN/weftd" --socket "$SOCK" --state "$TMP/state.db" \
  >"$TMP/weftd.log" 2>&1 &
WEFTD_PID=$!
for i in $(seq 100); do
  ctl show interfaces >/dev/null 2>&1 && break
  kill -0 "$WEFTD_PID" 2>/dev/null || { echo "weftd exited"; exit 1; }
  ((i == 100)) && { echo "weftd not ready after 10 s"; exit 1; }
  sleep 0.1
done
echo "weftd ready (pid $WEFTD_PID)"

step "network demo 10.99.0.0/24, attach both containers"
ctl network create demo --subnet 10.99.0.0/24
ctl attach --container demo-c1 --netns "/var/run/netns/$C1" --ifname eth0 --network demo
ctl attach --container demo-c2 --netns "/var/run/netns/$C2" --ifname eth0 --network demo
ip1=$(ip -n "$C1" -4 -o addr show dev eth0 | awk '{split($4,a,"/"); print a[1]}')
ip2=$(ip -n "$C2" -4 -o addr show dev eth0 | awk '{split($4,a,"/"); print a[1]}')
echo "c1 eth0 $ip1, c2 eth0 $ip2"
ctl network list

for size in 56 1400 1472; do
  step "ping c1 -> c2, $size bytes"
  ip netns exec "$C1" ping -n -c 5 -i 0.2 -W 2 -M do -s "$size" "$ip2"
done

step "iperf3 TCP c1 -> c2, 5 s"
ip netns exec "$C2" iperf3 -s -1 -B "$ip2" >"$TMP/iperf3-server.log" 2>&1 &
for i in $(seq 50); do
  ip netns exec "$C2" ss -ltn | grep -q ":5201 " && break
  ((i == 50)) && { echo "iperf3 server did not start"; cat "$TMP/iperf3-server.log"; exit 1; }
  sleep 0.1
done
ip netns exec "$C1" iperf3 -c "$ip2" -t 5 -f m

step "weftctl show runtime";              ctl show runtime
step "weftctl show interfaces";           ctl show interfaces
step "weftctl show bridge-domain 1 detail"; ctl show bridge-domain 1 detail
step "weftctl show errors";               ctl show errors
