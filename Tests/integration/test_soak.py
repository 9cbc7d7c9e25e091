"""A short run of the soak (benchmarks/soak.py): 75 s of UDP + TCP through weftd with
attach/detach churn every second and two restarts (SIGKILL, then SIGTERM). No datagram may
be lost outside the restart windows, and nothing (lease, veth, attachment) may be left over.
`make soak` runs the full 30 minutes."""

import json
import subprocess
import sys
from pathlib import Path

SOAK = Path(__file__).resolve().parents[2] / "benchmarks" / "soak.py"


def test_short_soak(tmp_path):
    out = tmp_path / "soak.json"
    p = subprocess.run([sys.executable, str(SOAK), "--minutes", "1.25", "--restart-every", "25",
                        "--rate", "300", "--tcp-mbit", "20", "--json", str(out)],
                       capture_output=True, text=True, timeout=300)
    print(p.stdout[-4000:])
    assert p.returncode == 0, f"soak failed:\n{p.stderr[-4000:]}\n{p.stdout[-2000:]}"
    r = json.loads(out.read_text())
    assert len(r["restarts"]) == 2, r["restarts"]
    for s in r["streams"]:
        assert s["sent"] > 0.9 * 300 * 75, s
        assert s["lost_outside_windows"] == 0, s
    assert r["churn_ops"] >= 60 and not r["churn_failures"], r["churn_failures"]
    f = r["final"]
    assert f["leases"] == f["veths"] == f["attachments"] == 3, f
    assert not r["leftover_namespaces"], r["leftover_namespaces"]
