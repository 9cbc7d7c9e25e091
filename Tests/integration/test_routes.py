"""Static routes through the API: a route to a third prefix via a container in
another network takes effect without restarting weftd, shows in `show fib`,
survives kill -9 + restart, and stops working once deleted."""

import json
import re
import tempfile

from weftlib import ping, wait_ping_ok, wait_until
from test_routing import _routed_pair

FAR_PREFIX, FAR_ADDR = "10.70.0.0/16", "10.70.0.1"


def _fib_has(node, prefix, next_hop):
    return any(r.get("prefix") == prefix and r.get("nextHop") == next_hop and r.get("kind") == "static"
               for r in node.ctl_json("show", "fib"))


def _far_ping_ok(r):
    p = ping(r, FAR_ADDR, count=10, interval=0.05)
    assert p.transmitted == 10 and p.loss_pct == 0.0, f"ping {FAR_ADDR}: {p.summary()}"
    # Reply from the blue container, one routed hop each way.
    assert set(re.findall(r"ttl=(\d+)", p.output)) == {"63"}, p.summary()


def test_static_route_add_restart_delete(node, container):
    r, b, ipr, ipb = _routed_pair(node, container, b_routes=True)
    b.run(["ip", "addr", "add", f"{FAR_ADDR}/32", "dev", "lo"])
    wait_ping_ok(r, ipb)
    assert ping(r, FAR_ADDR, count=2, interval=0.1).received == 0, "no route yet, the ping must fail"

    node.ctl("route", "add", FAR_PREFIX, "via", ipb)
    assert _fib_has(node, FAR_PREFIX, ipb), node.ctl("show", "fib").stdout
    assert [x["prefix"] for x in node.ctl_json("show", "fib", "10.70.9.9")] == [FAR_PREFIX]
    assert node.ctl_json("route", "list") == [{"prefix": FAR_PREFIX, "nextHop": ipb}]
    wait_ping_ok(r, FAR_ADDR)
    _far_ping_ok(r)
    neighbors = node.ctl_json("show", "neighbors")
    assert any(n["address"] == ipb and n["state"] == "reachable" for n in neighbors), neighbors
    adjacencies = node.ctl_json("show", "adjacencies")
    assert any(a["kind"] == "rewrite" and a.get("nextHop") == ipb for a in adjacencies), adjacencies
    text = node.ctl("show", "fib").stdout
    assert FAR_PREFIX in text and "static" in text, text

    # Duplicates and off-link next hops are refused.
    dup = node.ctl("route", "add", FAR_PREFIX, "via", ipb, check=False)
    assert dup.returncode == 1 and "already exists" in dup.stderr, dup.stderr
    off = node.http("POST", "/v1/routes", {"prefix": "10.71.0.0/16", "nextHop": "10.99.0.5"})
    assert off.status == 400 and off.json()["error"]["field"] == "nextHop", off

    node.kill9()
    node.start()
    assert _fib_has(node, FAR_PREFIX, ipb), node.ctl("show", "fib").stdout
    wait_ping_ok(r, FAR_ADDR)
    _far_ping_ok(r)

    node.ctl("route", "del", FAR_PREFIX)
    assert not _fib_has(node, FAR_PREFIX, ipb)
    assert node.ctl_json("route", "list") == []
    assert ping(r, FAR_ADDR, count=3, interval=0.1).received == 0, "route deleted, the ping must fail"


def test_route_load_bulk(node, container):
    r, b, ipr, ipb = _routed_pair(node, container, b_routes=True)
    with tempfile.NamedTemporaryFile("w", suffix=".routes") as f:
        f.write(f"# test routes\n10.80.0.0/16 {ipb}\n10.81.1.0/24 {ipb}\n10.82.0.0/16 10.99.0.9\n")
        f.flush()
        bad = node.ctl("route", "load", f.name, check=False)
        assert bad.returncode == 1 and ("nextHop" in bad.stderr or "connected subnet" in bad.stderr), bad.stderr
        assert node.ctl_json("route", "list") == [], "all or nothing"
    with tempfile.NamedTemporaryFile("w", suffix=".routes") as f:
        f.write(f"10.80.0.0/16 {ipb}\n10.81.1.0/24 via {ipb}\n")
        f.flush()
        node.ctl("route", "load", f.name)
    assert sorted(x["prefix"] for x in node.ctl_json("route", "list")) == ["10.80.0.0/16", "10.81.1.0/24"]
    b.run(["ip", "addr", "add", "10.81.1.7/32", "dev", "lo"])
    wait_ping_ok(r, "10.81.1.7")
