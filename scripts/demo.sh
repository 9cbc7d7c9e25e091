#!/usr/bin/env bash
# Weft demo: one node namespace running weftd, two "container" namespaces on one network.
# Pings at 56/1400/1472 bytes, 5 s of iperf3 TCP, then the dataplane's own view of it.
# Then a second node (its own weftd) joined by a veth underlay: a network spanning both
# nodes over VXLAN, a container on each, ping and iperf3 between them, show vxlan tunnels.
# Everything it creates is named weft-demo-*-<random> and removed on exit, even on failure.
# Usage: scripts/demo.sh        (root; binaries from $WEFT_BIN, default .build/release)
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
WEFT_BIN=${WEFT_BIN:-$REPO/.build/release}
SUFFIX=$(head -c3 /dev/urandom | od -An -tx1 | tr -d ' \n')
NODE=weft-demo-node-$SUFFIX
C1=weft-demo-c1-$SUFFIX
C2=weft-demo-c2-$SUFFIX
NODE2=weft-demo-node2-$SUFFIX
C3=weft-demo-c3-$SUFFIX
TMP=$(mktemp -d /tmp/weft-demo-XXXXXX)
SOCK=$TMP/weft.sock
SOCK2=$TMP/weft2.sock
WEFTD_PID=""
WEFTD2_PID=""
STARTED_PID=""   # the weftd start_weftd is waiting for (stopped by cleanup if it never got ready)

stop_weftd() {  # stop_weftd PID: SIGTERM, wait up to 5 s, then SIGKILL
  local pid=$1
  if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
    kill "$pid"
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  fi
}

cleanup() {
  local rc=$?
  set +e
  stop_weftd "$WEFTD_PID"
  stop_weftd "$WEFTD2_PID"
  stop_weftd "$STARTED_PID"
  for ns in "$C1" "$C2" "$C3" "$NODE" "$NODE2"; do
    if ip netns list | grep -qw "$ns"; then
      for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$pid" 2>/dev/null; done
      ip netns del "$ns"
    fi
  done
  if ((rc != 0)); then
    for f in "$TMP/weftd.log" "$TMP/weftd2.log"; do
      [[ -f $f ]] && { echo "--- $(basename "$f") (last 40 lines) ---"; tail -n 40 "$f"; }
    done
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

# start_weftd NS SOCKET STATE LOG CPU: weftd in NS with its worker on CPU, waits until it
# answers; sets STARTED_PID.
start_weftd() {
  ip netns exec "$1" "$WEFT_BIN/weftd" --socket "$2" --state "$3" --worker-cpu "$5" >"$4" 2>&1 &
  STARTED_PID=$!
  local i
  for i in $(seq 100); do
    "$WEFT_BIN/weftctl" --socket "$2" show interfaces >/dev/null 2>&1 && return 0
    kill -0 "$STARTED_PID" 2>/dev/null || { echo "weftd in $1 exited"; exit 1; }
    sleep 0.1
  done
  echo "weftd in $1 not ready after 10 s"; exit 1
}
ctl2() { "$WEFT_BIN/weftctl" --socket "$SOCK2" "$@"; }
step() { printf '\n== %s\n' "$*"; }

step "namespaces: node $NODE, containers $C1 $C2"
for ns in "$NODE" "$C1" "$C2"; do
  ip netns add "$ns"
  ip -n "$ns" link set lo up
done

step "weftd in $NODE (state and socket in $TMP)"
start_weftd "$NODE" "$SOCK" "$TMP/state.db" "$TMP/weftd.log" 1
WEFTD_PID=$STARTED_PID
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

step "second node $NODE2 with its own weftd; underlay veth u1 (192.0.2.1) <-> u2 (192.0.2.2)"
for ns in "$NODE2" "$C3"; do
  ip netns add "$ns"
  ip -n "$ns" link set lo up
done
# Two nodes are two machines: the second weftd's worker gets the other CPU (both on
# CPU 1 would measure two workers sharing one core).
start_weftd "$NODE2" "$SOCK2" "$TMP/state2.db" "$TMP/weftd2.log" 0
WEFTD2_PID=$STARTED_PID
ip -n "$NODE" link add u1 type veth peer name u2 netns "$NODE2"
ip -n "$NODE" link set u1 up
ip -n "$NODE2" link set u2 up
ctl uplink set u1 --address 192.0.2.1/24
ctl2 uplink set u2 --address 192.0.2.2/24

step "network span 10.98.0.0/24 on both nodes, VNI 4242, one tunnel each way (MTU 1500 - 50)"
ctl network create span --subnet 10.98.0.0/24 --vni 4242 --range-start 10.98.0.10 --range-end 10.98.0.99
ctl2 network create span --subnet 10.98.0.0/24 --vni 4242 --range-start 10.98.0.100 --range-end 10.98.0.199
ctl tunnel add --network span --remote 192.0.2.2
ctl2 tunnel add --network span --remote 192.0.2.1
ctl attach --container demo-c1 --netns "/var/run/netns/$C1" --ifname eth1 --network span
ctl2 attach --container demo-c3 --netns "/var/run/netns/$C3" --ifname eth0 --network span
ip1s=$(ip -n "$C1" -4 -o addr show dev eth1 | awk '{split($4,a,"/"); print a[1]}')
ip3=$(ip -n "$C3" -4 -o addr show dev eth0 | awk '{split($4,a,"/"); print a[1]}')
echo "c1 eth1 $ip1s (node 1), c3 eth0 $ip3 (node 2)"
ctl network list

for size in 56 1422; do
  step "ping c1 -> c3 across nodes over VXLAN, $size bytes"
  # the first echo may be lost while each node resolves the other's uplink address
  ip netns exec "$C1" ping -n -c 1 -W 1 "$ip3" >/dev/null 2>&1 || true
  ip netns exec "$C1" ping -n -c 5 -i 0.2 -W 2 -M do -s "$size" "$ip3"
done

step "iperf3 TCP c1 -> c3 over VXLAN, 5 s"
ip netns exec "$C3" iperf3 -s -1 -B "$ip3" >"$TMP/iperf3-server2.log" 2>&1 &
for i in $(seq 50); do
  ip netns exec "$C3" ss -ltn | grep -q ":5201 " && break
  ((i == 50)) && { echo "iperf3 server did not start"; cat "$TMP/iperf3-server2.log"; exit 1; }
  sleep 0.1
done
ip netns exec "$C1" iperf3 -c "$ip3" -t 5 -f m

step "node 1: weftctl show vxlan tunnels"; ctl show vxlan tunnels
step "node 2: weftctl show vxlan tunnels"; ctl2 show vxlan tunnels
step "node 2: weftctl show bridge-domain 1 detail (c1's MAC learned on the tunnel)"; ctl2 show bridge-domain 1 detail
