#!/usr/bin/env python3
"""What an idle weftd costs (issue 26): its CPU over a window with no traffic, with 0, 100 and
1,000 idle pods attached (veth, af-packet, `--poll-mode adaptive`, the default), and the latency
of the first packet after an idle period (ping pod to pod after --idle seconds of silence,
several samples: p50 and the worst).

CPU is utime+stime of weftd from /proc/PID/stat over --seconds, as a share of one core; the
worker's own split comes from `show runtime` (worker-busy/-spin/-sleep rows). Only namespaces
this script creates; all removed on exit.

Usage: benchmarks/idle.py [--pods 0,100,1000] [--seconds 10] [--idle 5] [--samples 5] [-o report.md] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "Tests" / "integration"))

from weftlib import RUN_SUFFIX, Container, Netns, Weftd, wait_ping_ok  # noqa: E402

SUBNET = "10.88.0.0/21"   # room for 1,000 pods and the two that ping


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")   # utime + stime


def first_packet_ms(a: Container, b_ip: str, idle: float) -> float:
    time.sleep(idle)
    out = a.run(["ping", "-n", "-c", "1", "-W", "2", b_ip], check=False).stdout
    m = re.search(r"time=([\d.]+) ms", out)
    return float(m.group(1)) if m else float("nan")


def measure(pods: int, seconds: float, idle: float, samples: int, tmp: Path) -> dict:
    made: list[Netns] = []

    def ns(tag: str) -> Netns:
        n = Netns(f"weft-idle-{RUN_SUFFIX}-{pods}-{tag}")
        made.append(n)
        n.run(["sysctl", "-q", "-w", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1"])
        return n

    d = None
    try:
        node = ns("node")
        state = tmp / f"n{pods}"
        state.mkdir()
        d = Weftd(node, state)
        d.start()
        d.create_network("idle", SUBNET)
        a, b = Container(ns("a"), f"idle-a-{RUN_SUFFIX}"), Container(ns("b"), f"idle-b-{RUN_SUFFIX}")
        d.attach(a, "idle")
        d.attach(b, "idle")
        for k in range(pods):
            d.attach(Container(ns(f"p{k}"), f"idle-p{k}-{RUN_SUFFIX}"), "idle")
        wait_ping_ok(a, b.ip())
        time.sleep(2)   # let the attach traffic and the worker's spin end
        d.ctl("clear", "runtime", check=False)
        pid = d.proc.pid
        c0, t0 = cpu_seconds(pid), time.monotonic()
        time.sleep(seconds)
        c1, t1 = cpu_seconds(pid), time.monotonic()
        rows = {r["name"]: r for r in d.runtime()}
        lat = [first_packet_ms(a, b.ip(), idle) for _ in range(samples)]
        return {"pods": pods, "cpu_pct": 100 * (c1 - c0) / (t1 - t0),
                "sleeps": rows.get("worker-sleep", {}).get("calls"),
                "wakeups": rows.get("worker-sleep", {}).get("vectors"),
                "idle_polls": rows.get("worker-spin", {}).get("calls"),
                "first_packet_ms": lat}
    finally:
        try:
            if d is not None:
                t0 = time.monotonic()
                try:
                    d.stop()
                except subprocess.TimeoutExpired:   # a thousand ports take a while to close
                    d.proc.kill()
                    d.proc.wait()
                print(f"[idle] weftd with {pods} idle pods stopped in {time.monotonic() - t0:.1f} s", file=sys.stderr)
        finally:
            for n in reversed(made):
                n.delete()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pods", default="0,100,1000")
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--idle", type=float, default=5)
    ap.add_argument("--samples", type=int, default=5)
    ap.add_argument("-o", dest="out", type=Path)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="weft-idle-"))
    results = []
    try:
        for n in [int(x) for x in args.pods.split(",")]:
            r = measure(n, args.seconds, args.idle, args.samples, tmp)
            print(f"[idle] {n} idle pods: weftd {r['cpu_pct']:.2f} % of a core, first packet "
                  f"{', '.join(f'{x:.3f}' for x in r['first_packet_ms'])} ms", file=sys.stderr)
            results.append(r)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    lines = [f"# Idle weftd ({time.strftime('%Y-%m-%d %H:%M')})", "",
             f"`benchmarks/idle.py --pods {args.pods} --seconds {args.seconds:g} --idle {args.idle:g} --samples {args.samples}`; "
             f"{os.cpu_count()} CPUs, kernel {os.uname().release}; weftd --poll-mode adaptive, veth/af-packet pods, "
             "CPU = weftd's utime+stime over the window as a share of one core.", "",
             "| idle pods | weftd CPU | sleeps | woken by a packet/request | idle polls | first packet after idle, p50 / max (ms) |",
             "|---|---|---|---|---|---|"]
    for r in results:
        lat = [x for x in r["first_packet_ms"] if x == x]
        p50 = f"{statistics.median(lat):.3f}" if lat else "-"
        worst = f"{max(lat):.3f}" if lat else "-"
        lines.append(f"| {r['pods']} | {r['cpu_pct']:.2f} % | {r['sleeps']} | {r['wakeups']} | {r['idle_polls']} | {p50} / {worst} |")
    report = "\n".join(lines) + "\n"
    print(report)
    if args.out:
        args.out.write_text(report)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0 if all(r["first_packet_ms"] and all(x == x for x in r["first_packet_ms"]) for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
