#!/usr/bin/env bash
# CNI benchmark: time from ADD to a pingable pod, and DEL time, for weft-cni (weftd's IPAM)
# against the reference bridge + host-local plugins, on the same machine, in one run.
#
#   node ns (runs the plugins; weftd or the Linux bridge lives here)
#   probe pod ns  <-- ADDed first, pings every new pod
#   pod 1..N ns   <-- ADDed one after another: t(ADD) and t(ADD -> first echo reply);
#                     then DELed one after another: t(DEL)
#
# The timing harness (python3) enters the node namespace itself and execs the plugin binaries
# directly, as a runtime does (no `ip netns exec` per call). The probe pings through a raw ICMP
# socket opened inside the probe pod: one echo every 1 ms until the first reply, so "pingable"
# includes ARP resolution and the datapath being ready. Both plugins get cniVersion 1.0.0 (the
# newest Debian's reference plugins speak). Namespaces are named weft-cnib-*-<random> and
# removed on exit, also on failure or Ctrl-C.
#
# Usage: benchmarks/cni.sh [-n PODS] [-d weft,bridge] [-o RESULTS_DIR] [--no-save]
set -euo pipefail

PODS=200
DATAPATHS="weft,bridge"
SAVE=1
REPO=$(cd "$(dirname "$0")/.." && pwd)
RESULTS=$REPO/benchmarks/results
WEFT_BIN=${WEFT_BIN:-$REPO/.build/release}
REF=${CNI_REFERENCE_DIR:-/usr/lib/cni}

usage() { sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }
while (($#)); do
  case $1 in
    -n|--pods) PODS=$2; shift 2 ;;
    -d|--datapaths) DATAPATHS=$2; shift 2 ;;
    -o|--out) RESULTS=$2; shift 2 ;;
    --no-save) SAVE=0; shift ;;
    -h|--help) usage 0 ;;
    *) echo "cni: unknown argument $1" >&2; usage 1 ;;
  esac
done
[[ $(id -u) -eq 0 ]] || { echo "cni: needs root" >&2; exit 1; }
((PODS >= 1 && PODS <= 250)) || { echo "cni: -n must be 1..250 (one /24)" >&2; exit 1; }
for f in "$WEFT_BIN/weftd" "$WEFT_BIN/weft-cni"; do
  [[ -x $f ]] || { echo "cni: $f missing (make build)" >&2; exit 1; }
done
for p in bridge host-local; do
  [[ -x $REF/$p ]] || { echo "cni: $REF/$p missing (scripts/install-deps.sh: containernetworking-plugins)" >&2; exit 1; }
done

SUFFIX=$(head -c3 /dev/urandom | od -An -tx1 | tr -d ' \n')
TMP=$(mktemp -d /tmp/weft-cnib-XXXXXX)
OUT=$TMP/report.md
cleanup() {
  # Namespaces first (kills what runs inside: weftd), then the scratch directory.
  for ns in $(ip netns list | awk '{print $1}' | grep -E "^weft-cnib-.*-$SUFFIX\$" || true); do
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$pid" 2>/dev/null || true; done
    ip netns del "$ns" 2>/dev/null || true
  done
  rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

python3 - "$PODS" "$DATAPATHS" "$SUFFIX" "$TMP" "$WEFT_BIN" "$REF" "$OUT" <<'PY'
import ctypes, json, os, socket, statistics, struct, subprocess, sys, time

pods, datapaths, suffix, tmp, weft_bin, ref, out = sys.argv[1:8]
pods = int(pods)
libc = ctypes.CDLL("libc.so.6", use_errno=True)
CLONE_NEWNET = 0x40000000
HOME = os.open("/proc/self/ns/net", os.O_RDONLY)


def setns(fd):
    if libc.setns(fd, CLONE_NEWNET) != 0:
        raise OSError(ctypes.get_errno(), "setns")


def enter(name):
    fd = os.open(f"/var/run/netns/{name}", os.O_RDONLY)
    try:
        setns(fd)
    finally:
        os.close(fd)


def sh(*argv):
    subprocess.run(argv, check=True, capture_output=True)


def ns_add(name):
    sh("ip", "netns", "add", name)
    sh("ip", "-n", name, "link", "set", "lo", "up")


def log(msg):
    print(f"[cni {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return ~s & 0xFFFF


class Prober:
    """Raw ICMP socket opened inside the probe pod (a socket keeps the namespace it was made in)."""

    def __init__(self, probe_ns, node_ns):
        enter(probe_ns)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
        enter(node_ns)
        self.sock.setblocking(False)
        self.ident = os.getpid() & 0xFFFF
        self.seq = 0

    def wait_pingable(self, dst, timeout=5.0):
        """Echo every 1 ms until a reply from dst; returns the time of the reply (perf_counter)."""
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            self.seq = (self.seq + 1) & 0xFFFF
            hdr = struct.pack("!BBHHH", 8, 0, 0, self.ident, self.seq)
            payload = b"weft-cni-bench"
            pkt = struct.pack("!BBHHH", 8, 0, checksum(hdr + payload), self.ident, self.seq) + payload
            try:
                self.sock.sendto(pkt, (dst, 0))
            except OSError:
                pass  # no route/neighbour yet
            until = time.perf_counter() + 0.001
            while time.perf_counter() < until:
                try:
                    data, (src, _) = self.sock.recvfrom(2048)
                except BlockingIOError:
                    time.sleep(0.0001)
                    continue
                ihl = (data[0] & 0x0F) * 4
                kind, _, _, ident, _ = struct.unpack("!BBHHH", data[ihl:ihl + 8])
                if src == dst and kind == 0 and ident == self.ident:
                    return time.perf_counter()
        raise AssertionError(f"{dst} not pingable within {timeout}s")


def plugin(path, command, conf, cid, netns, ifname="eth0"):
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "CNI_COMMAND": command, "CNI_CONTAINERID": cid,
           "CNI_IFNAME": ifname, "CNI_PATH": f"{os.path.dirname(path)}:{ref}"}
    if netns:
        env["CNI_NETNS"] = netns
    p = subprocess.run([path], input=json.dumps(conf).encode(), env=env, capture_output=True)
    if p.returncode != 0:
        raise AssertionError(f"{os.path.basename(path)} {command} {cid}: {p.stdout.decode()} {p.stderr.decode()}")
    return json.loads(p.stdout) if p.stdout.strip() else None


def pct(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, max(0, int(round(q / 100 * len(values) + 0.5)) - 1))]


def run(dp):
    node = f"weft-cnib-node-{dp}-{suffix}"
    probe = f"weft-cnib-probe-{dp}-{suffix}"
    names = [f"weft-cnib-p{i}-{dp}-{suffix}" for i in range(pods)]
    ns_add(node)
    ns_add(probe)
    for n in names:
        ns_add(n)
    weftd = None
    if dp == "weft":
        sock = f"{tmp}/weft-{dp}.sock"
        weftd = subprocess.Popen(["ip", "netns", "exec", node, f"{weft_bin}/weftd", "--socket", sock,
                                  "--state", f"{tmp}/state-{dp}.db"],
                                 stdout=open(f"{tmp}/weftd.log", "ab"), stderr=subprocess.STDOUT)
        for _ in range(100):
            if os.path.exists(sock):
                break
            time.sleep(0.05)
        binary = f"{tmp}/bin/weft"
        os.makedirs(f"{tmp}/bin", exist_ok=True)
        if not os.path.exists(binary):
            os.symlink(f"{weft_bin}/weft-cni", binary)
        conf = {"cniVersion": "1.0.0", "name": "bench", "type": "weft", "socket": sock,
                "network": "bench", "subnet": "10.123.0.0/24"}
    else:
        binary = f"{ref}/bridge"
        conf = {"cniVersion": "1.0.0", "name": "bench", "type": "bridge", "bridge": f"wcb{suffix}",
                "isGateway": True, "ipMasq": False,
                "ipam": {"type": "host-local", "dataDir": f"{tmp}/host-local",
                         "ranges": [[{"subnet": "10.124.0.0/24"}]], "routes": [{"dst": "0.0.0.0/0"}]}}
    enter(node)
    try:
        plugin(binary, "ADD", conf, "probe", f"/var/run/netns/{probe}")
        prober = Prober(probe, node)
        add, ready, dele = [], [], []
        for i, n in enumerate(names):
            t0 = time.perf_counter()
            res = plugin(binary, "ADD", conf, f"pod{i}", f"/var/run/netns/{n}")
            t1 = time.perf_counter()
            t2 = prober.wait_pingable(res["ips"][0]["address"].split("/")[0])
            add.append(t1 - t0)
            ready.append(t2 - t0)
        for i, n in enumerate(names):
            t0 = time.perf_counter()
            plugin(binary, "DEL", conf, f"pod{i}", f"/var/run/netns/{n}")
            dele.append(time.perf_counter() - t0)
        plugin(binary, "DEL", conf, "probe", f"/var/run/netns/{probe}")
        prober.sock.close()
    finally:
        setns(HOME)
        if weftd:
            weftd.terminate()
            weftd.wait(10)
    return {"ADD": add, "ADD to pingable": ready, "DEL": dele}


results = {}
for dp in datapaths.split(","):
    log(f"{dp}: {pods} pods")
    results[dp] = run(dp)
    r = results[dp]
    log(f"{dp}: ADD->pingable median {statistics.median(r['ADD to pingable']) * 1000:.1f} ms, "
        f"DEL median {statistics.median(r['DEL']) * 1000:.1f} ms")

labels = {"weft": "weft-cni (weftd IPAM)", "bridge": "bridge + host-local"}
lines = [f"| datapath | measure | median ms | p99 ms | min ms | max ms |", "|---|---|---:|---:|---:|---:|"]
for dp, r in results.items():
    for measure, values in r.items():
        ms = [v * 1000 for v in values]
        lines.append(f"| {labels.get(dp, dp)} | {measure} | {statistics.median(ms):.1f} | {pct(ms, 99):.1f} "
                     f"| {min(ms):.1f} | {max(ms):.1f} |")
with open(out, "w") as f:
    f.write("\n".join(lines) + "\n")
print("\n".join(lines))
PY

if ((SAVE)); then
  mkdir -p "$RESULTS"
  DEST=$RESULTS/$(date +%Y-%m-%d)-cni.md
  {
    echo "# CNI ADD/DEL: weft-cni vs bridge + host-local"
    echo
    echo "\`benchmarks/cni.sh -n $PODS -d $DATAPATHS\`, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs,"
    echo "kernel $(uname -r), reference plugins $(dpkg-query -W -f='${Version}' containernetworking-plugins 2>/dev/null || echo '?')."
    echo "Pods ADDed one after another, then DELed one after another; times per pod."
    echo
    cat "$OUT"
  } >"$DEST"
  echo "cni: saved $DEST" >&2
fi
