#!/usr/bin/env python3
"""Soak: mixed traffic through weftd for a long time, with attach/detach churn and
periodic restarts, accounting for every datagram, weftd's memory and what it leaves behind.

The rig (only namespaces this script creates; all removed on exit, also on failure):
  node ns: weftd (state in a temp dir)
  red 10.88.0.0/24:  a1, a2        blue 10.89.0.0/24: b1      (routed via the gateways .1)
  churn:   CHURN namespaces attached and detached in turn, one operation per --churn-every s
Traffic, all the time:
  - UDP a1 -> a2 (L2, same network) and a1 -> b1 (routed), --rate datagrams/s each,
    sequence-numbered (Tests/integration/seqstream.py): every lost datagram is known with
    its send time;
  - TCP b1 -> a2 (iperf3, capped at --tcp-mbit), across the routed path.
Every --restart-every s weftd is restarted, alternately with SIGKILL and SIGTERM. A
datagram sent between the stop and --window s after weftd answers again counts against
the restart; any other lost datagram is a loss outside restart windows (target 0).
Every 10 s: weftd's RSS, open fds, leases (its SQLite store), host veths, attachments.

Usage: benchmarks/soak.py [--minutes 30] [--restart-every 300] [--churn-every 1]
                          [--rate 500] [--tcp-mbit 50] [-o results.md] [--json FILE]
Exit status 0 when there was no loss outside restart windows and nothing leaked.
"""

from __future__ import annotations

import argparse
import array
import json
import os
import platform
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "Tests" / "integration"))

import weftlib  # noqa: E402
from weftlib import RUN_SUFFIX, Container, Netns, Weftd, wait_ping_ok  # noqa: E402

SEQSTREAM = str(REPO / "Tests" / "integration" / "seqstream.py")
RED, RED_GW = "10.88.0.0/24", "10.88.0.1"
BLUE, BLUE_GW = "10.89.0.0/24", "10.89.0.1"
CHURN = 4


def log(msg: str) -> None:
    print(f"[soak {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class Soak:
    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.tmp = Path(tempfile.mkdtemp(prefix="weft-soak-"))
        self.namespaces: list[Netns] = []
        self.procs: list[subprocess.Popen] = []
        self.weftd: Weftd | None = None
        self.restarts: list[dict] = []      # {"how", "stop", "ready"} (monotonic)
        self.samples: list[dict] = []       # every 10 s
        self.churn_ops = 0
        self.churn_failures: list[str] = []
        self.lifetime = 0                   # weftd process number (restarts + 1)

    # -- rig

    def netns(self, tag: str) -> Netns:
        ns = Netns(f"weft-soak-{RUN_SUFFIX}-{tag}")
        self.namespaces.append(ns)
        ns.run(["sysctl", "-q", "-w", "net.ipv6.conf.all.disable_ipv6=1",
                "net.ipv6.conf.default.disable_ipv6=1"])
        return ns

    def container(self, tag: str) -> Container:
        return Container(self.netns(tag), f"soak-{tag}-{RUN_SUFFIX}")

    def setup(self) -> None:
        # Private copies of the binaries: a rebuild during a long soak must not swap weftd
        # under a restart.
        bin_dir = self.tmp / "bin"
        bin_dir.mkdir()
        for b in ("weftd", "weftctl"):
            shutil.copy2(weftlib.weft_binary(b), bin_dir / b)
        weftlib.WEFT_BIN = bin_dir
        node = self.netns("node")
        self.weftd = Weftd(node, self.tmp)
        self.weftd.start()
        self.lifetime = 1
        d = self.weftd
        d.create_network("red", RED)
        d.create_network("blue", BLUE)
        self.a1, self.a2, self.b1 = self.container("a1"), self.container("a2"), self.container("b1")
        d.attach(self.a1, "red")
        d.attach(self.a2, "red")
        d.attach(self.b1, "blue")
        self.churners = [self.container(f"c{i}") for i in range(CHURN)]
        self.churn_attached = [False] * CHURN
        self.churn_cycle = [0] * CHURN
        wait_ping_ok(self.a1, self.a2.ip())
        wait_ping_ok(self.a1, self.b1.ip())
        wait_ping_ok(self.b1, self.a2.ip())

    def start_traffic(self) -> None:
        a = self.args
        seconds = a.minutes * 60 + 30   # senders are stopped explicitly before that
        self.streams = []
        for name, dst, port in (("l2", self.a2, 7101), ("routed", self.b1, 7102)):
            rx_out, tx_out = self.tmp / f"{name}.rx", self.tmp / f"{name}.tx"
            rx = dst.popen([sys.executable, SEQSTREAM, "recv", dst.ip(), str(port), str(rx_out)],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            assert rx.stdout.readline().strip() == "ready", f"{name} receiver did not start"
            tx = self.a1.popen([sys.executable, SEQSTREAM, "send", dst.ip(), str(port), str(a.rate),
                                str(seconds), str(tx_out)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            self.procs += [rx, tx]
            self.streams.append({"name": name, "rx": rx, "tx": tx, "rx_out": rx_out, "tx_out": tx_out})
        self.iperf_srv = self.a2.popen(["iperf3", "-s", "-1", "-B", self.a2.ip(), "-p", "7103"],
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.5)
        self.iperf_cli = self.b1.popen(["iperf3", "-c", self.a2.ip(), "-p", "7103", "-t", str(int(a.minutes * 60)),
                                        "-b", f"{a.tcp_mbit}M", "-J"],
                                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.procs += [self.iperf_srv, self.iperf_cli]

    # -- churn, restarts, samples

    def churn_step(self, k: int) -> None:
        d, c = self.weftd, self.churners[k]
        cid = f"{c.cid}-{self.churn_cycle[k]}"
        self.churn_ops += 1
        try:
            if self.churn_attached[k]:
                d.detach(cid)
                self.churn_attached[k] = False
                self.churn_cycle[k] += 1
            else:
                d.attach(c, "red" if k % 2 == 0 else "blue", "eth0", cid)
                self.churn_attached[k] = True
        except AssertionError as e:
            self.churn_failures.append(f"{time.strftime('%H:%M:%S')} {cid}: {str(e).splitlines()[0][:300]}")

    def restart(self) -> None:
        d = self.weftd
        how = "SIGKILL" if len(self.restarts) % 2 == 0 else "SIGTERM"
        stop = time.monotonic()
        if how == "SIGKILL":
            d.kill9()
        else:
            d.stop()
        d.start(ready_timeout=30)
        ready = time.monotonic()
        self.lifetime += 1
        self.restarts.append({"how": how, "stop": stop, "ready": ready})
        log(f"restart {len(self.restarts)} ({how}): weftd answered after {ready - stop:.2f} s")

    def leases(self) -> int:
        with sqlite3.connect(f"file:{self.weftd.state}?mode=ro", uri=True, timeout=5) as db:
            return db.execute("SELECT count(*) FROM leases").fetchone()[0]

    def sample(self, t0: float) -> None:
        d = self.weftd
        s = {"t": time.monotonic() - t0, "lifetime": self.lifetime, "rss_kib": rss_kib(d.pid),
             "fds": d.fd_count(), "leases": self.leases(), "veths": len(d.veths_in_node()),
             "attachments": len(d.attachments()), "expected": 3 + sum(self.churn_attached)}
        self.samples.append(s)

    def run(self) -> None:
        a = self.args
        self.setup()
        self.start_traffic()
        t0 = time.monotonic()
        end = t0 + a.minutes * 60
        next_restart = t0 + a.restart_every
        next_sample = t0 + 10
        k = 0
        log(f"running {a.minutes} min: restart every {a.restart_every} s, churn every {a.churn_every} s")
        while True:
            now = time.monotonic()
            if now >= end:
                break
            if now >= next_restart and end - now > a.window + 5:
                self.restart()
                next_restart += a.restart_every
            self.churn_step(k)
            k = (k + 1) % CHURN
            if time.monotonic() >= next_sample:
                self.sample(t0)
                next_sample += 10
                s = self.samples[-1]
                if len(self.samples) % 6 == 0:
                    log(f"t={s['t']:.0f}s rss={s['rss_kib']} KiB fds={s['fds']} leases={s['leases']} "
                        f"veths={s['veths']} churn ops={self.churn_ops} failures={len(self.churn_failures)}")
            time.sleep(max(0.0, a.churn_every - (time.monotonic() - now)))
        self.t_end = time.monotonic()
        self.stop_traffic()
        # Settle churn: detach whatever is attached, then the final leak check.
        for i in range(CHURN):
            if self.churn_attached[i]:
                self.churn_step(i)
        time.sleep(1)
        self.sample(t0)

    def stop_traffic(self) -> None:
        for s in self.streams:
            s["tx"].send_signal(signal.SIGTERM)
        for s in self.streams:
            s["tx"].wait(timeout=30)
        time.sleep(1.0)   # let the last datagrams arrive
        for s in self.streams:
            s["rx"].send_signal(signal.SIGTERM)
            s["rx"].wait(timeout=30)
        # iperf3 runs exactly the soak's length; SIGINT only if it is still going well after.
        try:
            out, _ = self.iperf_cli.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            self.iperf_cli.send_signal(signal.SIGINT)
            out, _ = self.iperf_cli.communicate(timeout=20)
        try:
            self.iperf = json.loads(out) if out.strip() else {}
        except json.JSONDecodeError:
            self.iperf = {}

    def teardown(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        if self.weftd is not None:
            self.weftd.stop()
        for ns in reversed(self.namespaces):
            ns.delete()
        shutil.rmtree(self.tmp, ignore_errors=True)

    # -- accounting

    def in_window(self, t: float) -> int | None:
        for n, r in enumerate(self.restarts):
            if r["stop"] - 0.05 <= t <= r["ready"] + self.args.window:
                return n
        return None

    def stream_report(self, s: dict) -> dict:
        times = array.array("d")
        with open(s["tx_out"], "rb") as f:
            times.frombytes(f.read())
        seen = Path(s["rx_out"]).read_bytes()
        sent = len(times)
        lost_outside: list[float] = []
        lost_in = [0] * len(self.restarts)
        gap = [0.0] * len(self.restarts)   # longest run of consecutive losses per restart (s)
        run_start = None
        for i, t in enumerate(times):
            ok = i < len(seen) and seen[i]
            if ok:
                if run_start is not None:
                    w = self.in_window(run_start)
                    if w is not None:
                        gap[w] = max(gap[w], t - run_start)
                    run_start = None
                continue
            if run_start is None:
                run_start = t
            w = self.in_window(t)
            if w is None:
                lost_outside.append(t)
            else:
                lost_in[w] += 1
        received = sum(1 for i in range(sent) if i < len(seen) and seen[i])
        return {"name": s["name"], "sent": sent, "received": received,
                "lost_outside_windows": len(lost_outside),
                "lost_outside_at": [round(t - self.t0_traffic(times), 1) for t in lost_outside[:20]],
                "lost_in_windows": lost_in, "outage_s": [round(g, 3) for g in gap]}

    @staticmethod
    def t0_traffic(times: array.array) -> float:
        return times[0] if times else 0.0

    def report(self) -> dict:
        streams = [self.stream_report(s) for s in self.streams]
        by_life: dict[int, list[dict]] = {}
        for s in self.samples:
            by_life.setdefault(s["lifetime"], []).append(s)
        lifetimes = []
        for life, ss in sorted(by_life.items()):
            lifetimes.append({"lifetime": life, "samples": len(ss), "rss_first_kib": ss[0]["rss_kib"],
                              "rss_last_kib": ss[-1]["rss_kib"], "rss_max_kib": max(x["rss_kib"] for x in ss),
                              "fds_first": ss[0]["fds"], "fds_last": ss[-1]["fds"],
                              "fds_max": max(x["fds"] for x in ss)})
        final = self.samples[-1]
        mismatches = [s for s in self.samples[:-1]
                      if not (s["leases"] == s["veths"] == s["attachments"] == s["expected"])]
        bps = (self.iperf.get("end", {}).get("sum_received", {}) or {}).get("bits_per_second")
        retr = (self.iperf.get("end", {}).get("sum_sent", {}) or {}).get("retransmits")
        return {
            "minutes": self.args.minutes, "rate": self.args.rate, "restart_every": self.args.restart_every,
            "churn_every": self.args.churn_every, "window": self.args.window,
            "restarts": [{"how": r["how"], "answered_after_s": round(r["ready"] - r["stop"], 2)}
                         for r in self.restarts],
            "streams": streams, "lifetimes": lifetimes,
            "churn_ops": self.churn_ops, "churn_failures": self.churn_failures,
            "final": final, "bookkeeping_mismatches": len(mismatches),
            "first_mismatches": mismatches[:5],
            "tcp": {"mbit_s": round(bps / 1e6, 1) if bps else None, "retransmits": retr,
                    "error": self.iperf.get("error")},
            "leftover_namespaces": self.leftover_namespaces(),
        }

    def leftover_namespaces(self) -> list[str]:
        out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
        mine = {ns.name for ns in self.namespaces}
        return [l.split()[0] for l in out.splitlines() if l.split() and l.split()[0] in mine]


def markdown(r: dict, started: str, load_before: str, load_after: str) -> str:
    L = [f"### Soak: {r['minutes']} min, restart every {r['restart_every']} s, churn every {r['churn_every']} s",
         "",
         f"`benchmarks/soak.py --minutes {r['minutes']} --restart-every {r['restart_every']} "
         f"--churn-every {r['churn_every']} --rate {r['rate']}` on {platform.node()} "
         f"({os.cpu_count()} CPUs, kernel {platform.release()}), started {started}. "
         f"Load average before: {load_before}; after: {load_after}.",
         "",
         f"Restart window: from the stop until {r['window']} s after weftd answers again.",
         "",
         "| stream | sent | received | lost outside restart windows | lost in each restart window | outage per restart (s) |",
         "|---|---|---|---|---|---|"]
    for s in r["streams"]:
        L.append(f"| {s['name']} | {s['sent']} | {s['received']} | **{s['lost_outside_windows']}** | "
                 f"{', '.join(map(str, s['lost_in_windows'])) or '-'} | {', '.join(map(str, s['outage_s'])) or '-'} |")
    for s in r["streams"]:
        if s["lost_outside_windows"]:
            L.append(f"\n{s['name']}: lost outside restart windows at t = {s['lost_outside_at']} s "
                     f"(from the stream's first datagram; at most 20 listed).")
    L += ["", "Restarts: " + (", ".join(f"{x['how']} (answered after {x['answered_after_s']} s)"
                                        for x in r["restarts"]) or "none"), ""]
    L += ["| weftd lifetime | samples | RSS first / last / max (KiB) | fds first / last / max |", "|---|---|---|---|"]
    for l in r["lifetimes"]:
        L.append(f"| {l['lifetime']} | {l['samples']} | {l['rss_first_kib']} / {l['rss_last_kib']} / "
                 f"{l['rss_max_kib']} | {l['fds_first']} / {l['fds_last']} / {l['fds_max']} |")
    f = r["final"]
    L += ["",
          f"Churn: {r['churn_ops']} attach/detach operations, {len(r['churn_failures'])} failed"
          + ("" if not r["churn_failures"] else ": " + "; ".join(r["churn_failures"][:5])) + ".",
          f"Bookkeeping: every 10 s leases = host veths = attachments = expected; mismatching samples: "
          f"{r['bookkeeping_mismatches']}.",
          f"After the run (churn detached): leases {f['leases']}, host veths {f['veths']}, attachments "
          f"{f['attachments']} (expected {f['expected']}: the three steady pods), weftd fds {f['fds']}. "
          f"Namespaces left: {len(r['leftover_namespaces'])}.",
          f"TCP b1 -> a2 (iperf3, capped): {r['tcp']['mbit_s']} Mbit/s, {r['tcp']['retransmits']} retransmits"
          + (f", error: {r['tcp']['error']}" if r["tcp"]["error"] else "") + ".", ""]
    return "\n".join(L)


def verdict(r: dict) -> list[str]:
    bad = []
    for s in r["streams"]:
        if s["lost_outside_windows"]:
            bad.append(f"{s['name']}: {s['lost_outside_windows']} datagrams lost outside restart windows "
                       f"(first at t={s['lost_outside_at'][:5]} s)")
    f = r["final"]
    if not (f["leases"] == f["veths"] == f["attachments"] == f["expected"]):
        bad.append(f"leftovers: leases {f['leases']}, veths {f['veths']}, attachments {f['attachments']}, "
                   f"expected {f['expected']}")
    if r["bookkeeping_mismatches"]:
        bad.append(f"{r['bookkeeping_mismatches']} samples where leases/veths/attachments disagreed: "
                   f"{r['first_mismatches'][:2]}")
    if r["churn_failures"]:
        bad.append(f"{len(r['churn_failures'])} churn operations failed: {r['churn_failures'][:3]}")
    if r["tcp"]["error"] or not r["tcp"]["mbit_s"]:
        bad.append(f"the TCP stream did not complete: {r['tcp']}")
    if r["leftover_namespaces"]:
        bad.append(f"namespaces left behind: {r['leftover_namespaces']}")
    return bad


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--minutes", type=float, default=30)
    p.add_argument("--restart-every", type=float, default=300)
    p.add_argument("--churn-every", type=float, default=1.0)
    p.add_argument("--rate", type=int, default=500, help="datagrams/s per UDP stream")
    p.add_argument("--tcp-mbit", type=int, default=50)
    p.add_argument("--window", type=float, default=3.0,
                   help="seconds after weftd answers again that still count as the restart")
    p.add_argument("-o", "--output", help="write the markdown report here")
    p.add_argument("--json", help="write the raw report as JSON here")
    a = p.parse_args()
    if os.geteuid() != 0:
        sys.exit("soak: needs root (network namespaces)")
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    load_before = " ".join(open("/proc/loadavg").read().split()[:3])
    soak = Soak(a)

    def on_signal(signum, frame):
        raise KeyboardInterrupt()
    signal.signal(signal.SIGTERM, on_signal)
    try:
        soak.run()
        r = soak.report()
    finally:
        soak.teardown()
    r["leftover_namespaces"] = soak.leftover_namespaces()
    load_after = " ".join(open("/proc/loadavg").read().split()[:3])
    md = markdown(r, started, load_before, load_after)
    print(md)
    if a.output:
        Path(a.output).write_text(md)
    if a.json:
        Path(a.json).write_text(json.dumps(r, indent=1))
    bad = verdict(r)
    for b in bad:
        print(f"soak: FAIL: {b}", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
