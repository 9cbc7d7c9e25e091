#!/usr/bin/env python3
"""Bulk TCP pod to pod: iperf3 through the kernel (bridge, router, NAT, vxlan) and through weftd, same run.

Datapaths (each built from scratch, measured, torn down; only namespaces this script creates):
  bridge          two pod namespaces, veths into a Linux bridge in a "host" namespace,
                  the kernel's default offloads (TSO/GSO/checksum) on: what Weft replaces
  bridge-tso-off  the same with TSO and GSO off on every veth end (the segment-at-a-time
                  kernel: the fair per-segment peer of today's weftd)
  weft-af-packet  weftd in a node namespace, both pods attached (veth, AF_PACKET V2 rings)
  weft-af-xdp     the same, veth host ends opened as AF_XDP sockets
  weft-tap        the same, TAP devices in the pods (weftd holds the queues)
Routed and NAT (pod a in 10.78.0.0/24; pod b in 10.79.0.0/24, or an "outside" 192.0.2.2 with no
route back to a):
  routed-kernel   a router namespace forwarding between two veths (ip_forward, defaults)
  weft-routed     weftd with two networks, a on one, b on the other (through both gateways)
  nat-kernel      the router namespace with iptables MASQUERADE towards the outside
  weft-nat        weftd: a's network --masquerade, the outside on weftd's uplink
Across two nodes (two node namespaces joined by a veth underlay, 192.0.2.1 <-> 192.0.2.2, its
default offloads on; pods on a VXLAN network, VNI 4242, MTU 1450):
  vxlan-kernel    on each node a kernel vxlan device and a Linux bridge (flannel's vxlan backend)
  weft-vxlan      a weftd on each node (workers pinned to CPUs 0 and 1: a core per node), the
                  underlay veth as its uplink, one tunnel each way
  weft-vxlan-to-kernel  weftd on node 1 (pod a), the kernel's vxlan + bridge on node 2 (pod b)
For every datapath and every -P in --streams: --runs runs of iperf3 -t --seconds, pod a -> pod b.
Reports per cell the median Gbit/s, the median retransmits, the CPU the whole machine spent
per transferred GB (busy jiffies of /proc/stat over the run; both ends, the kernel and weftd
together), and the ratio against the bridge of the same run. weftd polls adaptively (its
default), so it leaves the core to iperf3 when idle.

Usage: benchmarks/tcp.py [--runs 5] [--seconds 5] [--streams 1,4] [--modes a,b,...]
                         [-o report.md] [--json FILE]
This is issue 19's baseline; targets are in that issue, not asserted here. Exit 1 only when a
datapath did not carry TCP at all.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "Tests" / "integration"))

from weftlib import RUN_SUFFIX, Container, Netns, Weftd, run, wait_ping_ok, wait_until  # noqa: E402

MODES = ["bridge", "bridge-tso-off", "weft-af-packet", "weft-af-xdp", "weft-tap",
         "routed-kernel", "weft-routed", "nat-kernel", "weft-nat",
         "vxlan-kernel", "weft-vxlan", "weft-vxlan-to-kernel"]
# Each datapath's ratio is against the Linux peer doing the same job in the same run.
PEERS = {"routed": "routed-kernel", "nat": "nat-kernel", "vxlan": "vxlan-kernel"}
ROUTED_A, ROUTED_B, OUTSIDE_NET = "10.78.0.0/24", "10.79.0.0/24", "192.0.2.0/24"
SUBNET, ADDR_A, ADDR_B = "10.77.0.0/24", "10.77.0.2", "10.77.0.3"
UNDERLAY_A, UNDERLAY_B, VNI, OVERLAY_MTU = "192.0.2.1", "192.0.2.2", 4242, 1450


def log(msg: str) -> None:
    print(f"[tcp {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def busy_jiffies() -> int:
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    return sum(fields) - fields[3] - fields[4]   # all but idle and iowait


class Rig:
    """Two pod namespaces joined by one datapath; `close` removes everything it made."""

    def __init__(self, mode: str):
        self.mode = mode
        self.namespaces: list[Netns] = []
        self.weftds: list[Weftd] = []
        self.tmp = Path(tempfile.mkdtemp(prefix="weft-tcp-"))
        tag = mode.replace("weft-", "w").replace("bridge", "br")
        try:
            self.a = Container(self._ns(f"{tag}-a"), f"tcp-a-{RUN_SUFFIX}")
            self.b = Container(self._ns(f"{tag}-b"), f"tcp-b-{RUN_SUFFIX}")
            if mode.startswith("bridge"):
                self._bridge(tso=mode == "bridge")
            elif mode in ("routed-kernel", "nat-kernel"):
                self._kernel_router(nat=mode == "nat-kernel")
            elif mode in ("weft-routed", "weft-nat"):
                self._weft_router(nat=mode == "weft-nat")
            elif "vxlan" in mode:
                self._two_nodes(weft_a=mode.startswith("weft"), weft_b=mode == "weft-vxlan")
            else:
                self._weft(mode.removeprefix("weft-"))
            wait_ping_ok(self.a, self.b.ip())
        except BaseException:
            self.close()   # a rig that failed half way leaves nothing behind either
            raise

    def _ns(self, tag: str) -> Netns:
        ns = Netns(f"weft-tcp-{RUN_SUFFIX}-{tag}")
        self.namespaces.append(ns)
        return ns

    def _bridge(self, tso: bool) -> None:
        host = self._ns("brhost")
        host.run(["ip", "link", "add", "br0", "type", "bridge"])
        host.run(["ip", "link", "set", "br0", "up"])
        for i, (pod, addr) in enumerate(((self.a, ADDR_A), (self.b, ADDR_B))):
            end = f"v{i}"
            run(["ip", "-n", host.name, "link", "add", end, "type", "veth", "peer", "name", "eth0", "netns", pod.name])
            host.run(["ip", "link", "set", end, "master", "br0", "up"])
            pod.run(["ip", "addr", "add", f"{addr}/24", "dev", "eth0"])
            pod.run(["ip", "link", "set", "eth0", "up"])
            if not tso:
                host.run(["ethtool", "-K", end, "tso", "off", "gso", "off"])
                pod.run(["ethtool", "-K", "eth0", "tso", "off", "gso", "off"])

    def _kernel_router(self, nat: bool) -> None:
        """A router namespace with IPv4 forwarding between pod a (10.78.0.2) and b: pod b in
        10.79.0.0/24 (routed), or an "outside" 192.0.2.2 behind iptables MASQUERADE with no
        route back to a's subnet (nat)."""
        r = self._ns("router")
        r.run(["sysctl", "-q", "-w", "net.ipv4.ip_forward=1"])
        b_addr, b_gw = ("192.0.2.2", "192.0.2.1") if nat else ("10.79.0.2", "10.79.0.1")
        for end, pod, addr, gw in (("r0", self.a, "10.78.0.2", "10.78.0.1"), ("r1", self.b, b_addr, b_gw)):
            run(["ip", "-n", r.name, "link", "add", end, "type", "veth", "peer", "name", "eth0", "netns", pod.name])
            r.run(["ip", "addr", "add", f"{gw}/24", "dev", end])
            r.run(["ip", "link", "set", end, "up"])
            pod.run(["ip", "addr", "add", f"{addr}/24", "dev", "eth0"])
            pod.run(["ip", "link", "set", "eth0", "up"])
            if not (nat and pod is self.b):
                pod.run(["ip", "route", "add", "default", "via", gw])
        if nat:
            r.run(["iptables", "-t", "nat", "-A", "POSTROUTING", "-s", ROUTED_A, "-o", "r1", "-j", "MASQUERADE"])

    def _weft_router(self, nat: bool) -> None:
        """weftd routing between two networks (a in 10.78.0.0/24, b in 10.79.0.0/24), or
        masquerading a's network to an "outside" b (192.0.2.2) on its uplink."""
        node = self._ns("node")
        d = self._start_weftd(node)
        d.create_network("red", ROUTED_A, *(["--masquerade"] if nat else []))
        d.attach(self.a, "red", "eth0")
        if not nat:
            d.create_network("blue", ROUTED_B)
            d.attach(self.b, "blue", "eth0")
            return
        run(["ip", "-n", node.name, "link", "add", "up0", "type", "veth", "peer", "name", "eth0", "netns", self.b.name])
        node.run(["ip", "link", "set", "up0", "up"])
        self.b.run(["ip", "addr", "add", "192.0.2.2/24", "dev", "eth0"])
        self.b.run(["ip", "link", "set", "eth0", "up"])
        d.ctl("uplink", "set", "up0", "--address", "192.0.2.1/24")

    def _start_weftd(self, node: Netns, worker_cpu: int | None = None) -> Weftd:
        (self.tmp / node.name).mkdir()
        d = Weftd(node, self.tmp / node.name, [] if worker_cpu is None else [f"--worker-cpu={worker_cpu}"])
        self.weftds.append(d)
        d.start()
        return d

    def _weft(self, how: str) -> None:
        d = self._start_weftd(self._ns("node"))
        d.create_network("tcp", SUBNET)
        opts = {"af-packet": [], "af-xdp": ["--driver", "af-xdp"], "tap": ["--attach", "tap"]}[how]
        for pod in (self.a, self.b):
            d.attach(pod, "tcp", "eth0", None, *opts)

    def _two_nodes(self, weft_a: bool, weft_b: bool) -> None:
        n1, n2 = self._ns("n1"), self._ns("n2")
        run(["ip", "-n", n1.name, "link", "add", "u1", "type", "veth", "peer", "name", "u2", "netns", n2.name])
        # Two nodes are two machines: each weftd's worker gets a core of its own (weftd
        # pins to CPU 1 by default, and two workers on one core measure the sharing).
        for (node, end, local, remote, pod, addr, weft, lo, hi, cpu) in (
                (n1, "u1", UNDERLAY_A, UNDERLAY_B, self.a, ADDR_A, weft_a, 10, 99, 0),
                (n2, "u2", UNDERLAY_B, UNDERLAY_A, self.b, ADDR_B, weft_b, 100, 199, 1)):
            node.run(["ip", "link", "set", end, "up"])
            if weft:
                d = self._start_weftd(node, worker_cpu=cpu)
                d.ctl("uplink", "set", end, "--address", f"{local}/24")
                d.create_network("span", SUBNET, "--vni", str(VNI),
                                 "--range-start", f"10.77.0.{lo}", "--range-end", f"10.77.0.{hi}")
                d.ctl("tunnel", "add", "--network", "span", "--remote", remote)
                d.attach(pod, "span", "eth0")
                continue
            node.run(["ip", "addr", "add", f"{local}/24", "dev", end])
            node.run(["ip", "link", "add", "vxlan0", "type", "vxlan", "id", str(VNI), "dstport", "4789",
                      "local", local, "remote", remote, "dev", end, "nolearning"])
            node.run(["ip", "link", "add", "br0", "type", "bridge"])
            node.run(["ip", "link", "set", "vxlan0", "master", "br0", "up"])
            run(["ip", "-n", node.name, "link", "add", "hv", "type", "veth", "peer", "name", "eth0", "netns", pod.name])
            node.run(["ip", "link", "set", "hv", "master", "br0", "up"])
            node.run(["ip", "link", "set", "br0", "up"])
            pod.run(["ip", "link", "set", "eth0", "mtu", str(OVERLAY_MTU), "up"])
            pod.run(["ip", "addr", "add", f"{addr}/24", "dev", "eth0"])

    def close(self) -> None:
        for d in self.weftds:
            d.stop()
        for ns in reversed(self.namespaces):
            ns.delete()
        shutil.rmtree(self.tmp, ignore_errors=True)


def iperf(rig: Rig, seconds: float, streams: int) -> dict:
    dst = rig.b.ip()
    srv = rig.b.popen(["iperf3", "-s", "-1", "-B", dst], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: "5201" in rig.b.run(["ss", "-ltn"]).stdout, 5, what="iperf3 server")
        j0, t0 = busy_jiffies(), time.monotonic()
        p = rig.a.run(["iperf3", "-c", dst, "-t", str(seconds), "-P", str(streams), "-J"],
                      check=False, timeout=seconds + 30)
        j1, t1 = busy_jiffies(), time.monotonic()
    finally:
        try:
            srv.wait(timeout=10)
        except subprocess.TimeoutExpired:
            srv.kill()
    out = json.loads(p.stdout or "{}")
    if p.returncode != 0 or "error" in out:
        return {"gbps": 0.0, "retransmits": None, "cpu_s_per_gb": None, "error": out.get("error", p.stderr[-300:])}
    end = out["end"]
    received = end["sum_received"]["bytes"]
    hz = os.sysconf("SC_CLK_TCK")
    cpu = (j1 - j0) / hz
    return {"gbps": end["sum_received"]["bits_per_second"] / 1e9,
            "retransmits": end["sum_sent"].get("retransmits"),
            "cpu_s_per_gb": cpu / (received / 1e9) if received else None,
            "wall_s": t1 - t0}


def plot(summary: dict, modes: list[str], streams: list[str], width: int = 50) -> list[str]:
    """The medians as a text bar chart (one bar per datapath and stream count, one scale)."""
    cells = [(m, p, summary[m][p]["gbps"] or 0.0) for p in streams for m in modes]
    top = max((g for _, _, g in cells), default=0.0) or 1.0
    label = max(len(f"{m} -P {p}") for m, p, _ in cells) if cells else 0
    out = ["", "```", f"Gbit/s (median; full bar = {top:.1f})"]
    for m, p, g in cells:
        out.append(f"{f'{m} -P {p}':<{label}} |{'#' * round(width * g / top):<{width}}| {g:6.2f}")
    return out + ["```"]


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--streams", default="1,4")
    ap.add_argument("--modes", default=",".join(MODES))
    ap.add_argument("-o", "--out", type=Path)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("tcp.py needs root (network namespaces)")
    modes = args.modes.split(",")
    unknown = set(modes) - set(MODES)
    if unknown:
        sys.exit(f"unknown modes {sorted(unknown)}; known: {', '.join(MODES)}")
    streams = [int(s) for s in args.streams.split(",")]

    started = time.time()
    results: dict[str, dict[int, list[dict]]] = {}
    for mode in modes:
        log(f"{mode}: building the rig")
        rig = None
        try:
            rig = Rig(mode)
            results[mode] = {}
            for p in streams:
                runs = []
                for r in range(args.runs):
                    runs.append(iperf(rig, args.seconds, p))
                    log(f"{mode} -P {p} run {r + 1}: {runs[-1]['gbps']:.2f} Gbit/s"
                        + (f" ({runs[-1]['error']})" if "error" in runs[-1] else ""))
                results[mode][p] = runs
        except Exception as e:   # a datapath that cannot be built is reported, the others still run
            log(f"{mode}: failed: {e}")
            results[mode] = {p: [{"gbps": 0.0, "retransmits": None, "cpu_s_per_gb": None, "error": str(e)[-300:]}]
                             for p in streams}
        finally:
            if rig:
                rig.close()

    summary = {m: {p: {"gbps": median(r["gbps"] for r in runs),
                       "retransmits": median(r["retransmits"] for r in runs),
                       "cpu_s_per_gb": median(r["cpu_s_per_gb"] for r in runs),
                       "runs": [round(r["gbps"], 3) for r in runs],
                       "errors": [r["error"] for r in runs if "error" in r]}
                   for p, runs in per.items()} for m, per in results.items()}
    lines = [f"# Bulk TCP pod to pod: one node, routed, NAT44, across two nodes ({time.strftime('%Y-%m-%d %H:%M')})", "",
             f"`benchmarks/tcp.py --runs {args.runs} --seconds {args.seconds:g} --streams {args.streams}`; "
             f"{os.cpu_count()} CPUs, kernel {os.uname().release}; medians of {args.runs} runs; "
             f"ratio = against `bridge` (offloads on) in the same run, routed against `routed-kernel`, NAT against `nat-kernel` (iptables MASQUERADE), across nodes against `vxlan-kernel` (the weftds of two nodes pinned to CPUs 0 and 1); CPU = machine-wide busy CPU-seconds per GB received.",
             "", "| datapath | streams | Gbit/s (median) | ratio to peer | retransmits | CPU-s/GB | runs (Gbit/s) |",
             "|---|---|---|---|---|---|---|"]
    for m in modes:
        for p in streams:
            s = summary[m][p]
            peer = next((p for k, p in PEERS.items() if k in m), "bridge")
            base = summary.get(peer, {}).get(p, {}).get("gbps")
            ratio = f"{s['gbps'] / base:.2f}x" if base and s["gbps"] is not None else "-"
            cpu = f"{s['cpu_s_per_gb']:.2f}" if s["cpu_s_per_gb"] is not None else "-"
            rt = f"{s['retransmits']:g}" if s["retransmits"] is not None else "-"
            err = f" ({s['errors'][0]})" if s["errors"] else ""
            lines.append(f"| {m} | {p} | {s['gbps']:.2f}{err} | {ratio} | {rt} | {cpu} | {', '.join(map(str, s['runs']))} |")
    lines += plot(summary, modes, streams)
    lines += ["", f"Elapsed: {time.time() - started:.0f} s."]
    report = "\n".join(lines) + "\n"
    print(report)
    if args.out:
        args.out.write_text(report)
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2))
    return 1 if any(summary[m][p]["gbps"] in (None, 0.0) for m in modes for p in streams) else 0


if __name__ == "__main__":
    sys.exit(main())
