"""A short run of benchmarks/tcp.py (bulk TCP pod to pod: Linux bridge with and without TSO/GSO,
weftd af-packet, af-xdp, tap; routed and NAT44 against a kernel router and iptables
MASQUERADE; across two nodes: kernel vxlan, two weftds, weftd to a kernel vxlan node): every datapath carries TCP and the report has every cell. Not a
speed test: `make bench` runs it at full length (5 runs of 5 s, 1 and 4 streams)."""

import json
import subprocess
import sys
from pathlib import Path

TCP = Path(__file__).resolve().parents[2] / "benchmarks" / "tcp.py"


def test_tcp_benchmark_harness(tmp_path):
    out, report = tmp_path / "tcp.json", tmp_path / "tcp.md"
    p = subprocess.run([sys.executable, str(TCP), "--runs", "1", "--seconds", "1", "--streams", "1",
                        "--json", str(out), "-o", str(report)], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, f"tcp.py failed:\n{p.stderr[-3000:]}"
    summary = json.loads(out.read_text())
    assert set(summary) == {"bridge", "bridge-tso-off", "weft-af-packet", "weft-af-xdp", "weft-tap",
                            "routed-kernel", "weft-routed", "nat-kernel", "weft-nat",
                            "vxlan-kernel", "weft-vxlan", "weft-vxlan-to-kernel"}, summary
    for mode, per in summary.items():
        cell = per["1"]
        assert cell["gbps"] > 0.05 and not cell["errors"], (mode, cell)
        assert cell["cpu_s_per_gb"] is not None and cell["cpu_s_per_gb"] > 0, (mode, cell)
    text = report.read_text()
    assert "| weft-tap | 1 |" in text and "| weft-vxlan | 1 |" in text and "ratio to peer" in text
    bars = [line for line in text.splitlines() if " -P 1 " in line and "|" in line]
    assert len(bars) == len(summary) and all("|#" in b for b in bars), "the text plot has a bar per datapath"
    leftover = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert "weft-tcp-" not in leftover, leftover
