"""100 MiB of random bytes over TCP from container A to B through weftd; sha256 must match."""

import json
import subprocess
import sys
import time
from pathlib import Path

from weftlib import wait_ping_ok

HELPER = str(Path(__file__).with_name("tcpxfer.py"))
MB = 100
PORT = 5399


def test_tcp_100mb(node, container):
    node.create_network("net", "10.92.0.0/24")
    a, b = container("a"), container("b")
    node.attach(a, "net")
    node.attach(b, "net")
    ipb = b.ip()
    assert ipb, "container b has no address"
    wait_ping_ok(a, ipb)

    srv = b.popen([sys.executable, HELPER, "server", ipb, str(PORT)],
                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = srv.stdout.readline().strip()  # blocks until "ready" or the server dies
        assert line == "ready", f"server did not start: {line!r} {srv.stderr.read()}"
        cli = a.run([sys.executable, HELPER, "client", ipb, str(PORT), str(MB)],
                    check=False, timeout=240)
        assert cli.returncode == 0, f"client failed: {cli.stderr.strip()[-2000:]}"
        c = json.loads(cli.stdout.strip().splitlines()[-1])
        out, err = srv.communicate(timeout=30)
        assert srv.returncode == 0, f"server failed: {err.strip()[-2000:]}"
        s = json.loads(out.strip().splitlines()[-1])
    finally:
        if srv.poll() is None:
            srv.kill()
            srv.wait()
    mbps = c["bytes"] / c["seconds"] / 1e6
    print(f"TCP A->B: {c['bytes']} bytes in {c['seconds']:.2f} s = {mbps:.1f} MB/s")
    assert s["bytes"] == c["bytes"], f"server received {s['bytes']} of {c['bytes']} bytes"
    assert s["sha256"] == c["sha256"] == c["peer_sha256"], (
        f"sha256 mismatch: sent {c['sha256']} received {s['sha256']} ({mbps:.1f} MB/s)")
