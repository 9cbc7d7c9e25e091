"""A short run of benchmarks/idle.py (what an idle weftd costs, issue 26): the harness measures
weftd's CPU with idle pods and the first packet after silence, and the worker reports that it
slept (about once a second while idle). Not a speed test: `make bench` runs it with 0, 100 and 1,000 pods, 10 s windows."""

import json
import subprocess
import sys
from pathlib import Path

IDLE = Path(__file__).resolve().parents[2] / "benchmarks" / "idle.py"


def test_idle_benchmark_harness(tmp_path):
    out = tmp_path / "idle.json"
    p = subprocess.run([sys.executable, str(IDLE), "--pods", "0,20", "--seconds", "3", "--idle", "1",
                        "--samples", "2", "--json", str(out)], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, f"idle.py failed:\n{p.stderr[-3000:]}"
    results = json.loads(out.read_text())
    assert [r["pods"] for r in results] == [0, 20]
    for r in results:
        # Idle, the worker blocks in poll(2) between housekeeping runs (once a second) instead
        # of spinning: a few sleeps in 3 s, and few idle polls (a spinning loop makes millions;
        # the 1 ms spin after the last packet makes thousands).
        assert 2 <= r["sleeps"] <= 10, r
        assert r["idle_polls"] < 100_000, r
        assert len(r["first_packet_ms"]) == 2 and all(x > 0 for x in r["first_packet_ms"]), r
    leftover = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert "weft-idle-" not in leftover, leftover
