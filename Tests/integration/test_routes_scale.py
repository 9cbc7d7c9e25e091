"""A million static routes through `weftctl route load`: loaded end to end (file -> API ->
SQLite -> FIB), looked up with `show fib`, and restored after kill -9. Measured on the
2-vCPU CI VM: 15-34 s for the load and 7-17 s for the restart (benchmarks/routes-api.sh
has the figures), so the test uses the full million."""

import random
import tempfile
import time

import pytest

from weftlib import Capture

ROUTES = 1_000_000
NET = "10.61.0.0/24"


def _routes(n, seed=1):
    """n distinct prefixes, 16:5% 24:85% 32:10%, outside 0/8, 10/8, 127/8 and 224/3."""
    rnd = random.Random(seed)
    counts = {16: n * 5 // 100, 32: n // 10}
    counts[24] = n - counts[16] - counts[32]
    seen, out = set(), []
    for length, count in counts.items():
        got = 0
        while got < count:
            a = rnd.getrandbits(32) & (0xFFFFFFFF << (32 - length)) & 0xFFFFFFFF
            if (a >> 24) in (0, 10, 127) or (a >> 24) >= 224 or (a, length) in seen:
                continue
            seen.add((a, length))
            out.append((a, length))
            got += 1
    rnd.shuffle(out)
    return out


def _fmt(a):
    return f"{a >> 24}.{a >> 16 & 255}.{a >> 8 & 255}.{a & 255}"


def _rss_mib(node):
    for line in open(f"/proc/{node.pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return -1.0


def test_load_a_million_routes(node, container):
    _load_a_million_routes(node, container, "dir24-8")


@pytest.mark.weftd_args("--fib-algorithm", "dxr")
def test_load_a_million_routes_into_a_dxr_fib(node, container):
    _load_a_million_routes(node, container, "dxr")


def _forwarded_by_the_fib(node, c, routes, probes):
    """A packet from container c to an address in each probed route makes weftd's ip4-lookup
    (the FIB structure itself, not the prefix store `show fib` reads) pick the route's next
    hop, which nobody owns: ip4-arp asks for it on the network, and c sees that request."""
    for i in probes:
        a, l = routes[i]
        hop = f"10.61.0.{10 + i % 16}"
        cap = Capture(c, "eth0", f"arp and arp[6:2] == 1 and arp dst host {hop}", count=1, timeout=5)
        c.run(["ping", "-n", "-q", "-c", "1", "-W", "1", _fmt(a + (1 if l < 32 else 0))], check=False)
        got, text = cap.result(timeout=10)
        assert got >= 1, f"no ARP request for {hop} after a packet to {_fmt(a)}/{l}: {text!r}"


def _load_a_million_routes(node, container, algorithm):
    assert f"{algorithm} FIB" in node.log_path.read_text(), f"weftd did not start with a {algorithm} FIB"
    node.create_network("bench", NET)
    routes = _routes(ROUTES)
    with tempfile.NamedTemporaryFile("w", suffix=".routes") as f:
        f.write("# a million routes\n")
        for i, (a, l) in enumerate(routes):
            f.write(f"{_fmt(a)}/{l} 10.61.0.{10 + i % 16}\n")
        f.flush()
        t0 = time.monotonic()
        out = node.ctl("route", "load", f.name, timeout=600)
        took = time.monotonic() - t0
    assert f"loaded {ROUTES} route(s)" in out.stdout, out.stdout
    print(f"route load: {ROUTES} routes in {took:.1f} s ({ROUTES / took:.0f} routes/s), "
          f"weftd resident {_rss_mib(node):.0f} MiB")

    def check(probes):
        for i in probes:
            a, l = routes[i]
            hop = f"10.61.0.{10 + i % 16}"
            addr = _fmt(a + (1 if l < 32 else 0))
            got = node.ctl_json("show", "fib", addr)
            assert [(x["prefix"], x["nextHop"], x["kind"]) for x in got] == [(f"{_fmt(a)}/{l}", hop, "static")], (addr, got)
            exact = node.ctl_json("show", "fib", f"{_fmt(a)}/{l}")
            assert len(exact) == 1 and exact[0]["nextHop"] == hop, exact

    probes = [0, 1, ROUTES // 3, ROUTES // 2, ROUTES - 1]
    check(probes)
    c = container("c")
    node.attach(c, "bench")
    _forwarded_by_the_fib(node, c, routes, [2, ROUTES // 4, ROUTES - 2])
    # An address no route covers misses (10/8 holds only the network).
    assert node.ctl_json("show", "fib", "10.200.0.1") == []

    node.kill9()
    t0 = time.monotonic()
    node.start(ready_timeout=300)
    print(f"restart with {ROUTES} routes: {time.monotonic() - t0:.1f} s")
    check(probes)
    # One route deleted by its prefix, the rest stay.
    a, l = routes[ROUTES // 2]
    node.ctl("route", "del", f"{_fmt(a)}/{l}")
    assert node.ctl_json("show", "fib", f"{_fmt(a)}/{l}") == []
    check([0, ROUTES - 1])
