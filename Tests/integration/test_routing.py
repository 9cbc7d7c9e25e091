"""Routing between networks on one node: each network's gateway (.1) is a BVI in
weftd, containers get a default route through it, and weftd forwards IPv4 between
the networks (TTL decremented)."""

import re

import pytest

from weftlib import ping, tcp_transfer, wait_ping_ok

PORT = 5401
MB = 10
RED, RED_GW = "10.61.0.0/24", "10.61.0.1"
BLUE, BLUE_GW = "10.62.0.0/24", "10.62.0.1"


def _routed_pair(node, container, b_routes=False):
    """r in red, b in blue. b_routes: b answers for other prefixes (a next hop of static
    routes), so it is attached without the source guard."""
    node.create_network("red", RED)
    node.create_network("blue", BLUE)
    r, b = container("r"), container("b")
    node.attach(r, "red")
    node.attach(b, "blue", "eth0", None, *(["--no-source-guard"] if b_routes else []))
    ipr, ipb = r.ip(), b.ip()
    assert ipr and ipr.startswith("10.61.0.") and ipb and ipb.startswith("10.62.0."), f"red={ipr} blue={ipb}"
    for c, gw in ((r, RED_GW), (b, BLUE_GW)):
        routes = c.run(["ip", "-4", "route", "show", "default"]).stdout
        assert f"via {gw}" in routes, f"{c.name}: no default route via {gw}: {routes!r}"
    return r, b, ipr, ipb


def test_ping_gateways_and_across(node, container):
    r, b, ipr, ipb = _routed_pair(node, container)
    for c, gw in ((r, RED_GW), (b, BLUE_GW)):
        wait_ping_ok(c, gw)
        p = ping(c, gw, count=10, interval=0.05)
        assert p.transmitted == 10 and p.loss_pct == 0.0, f"ping {c.name} -> {gw}: {p.summary()}"
    wait_ping_ok(r, ipb)
    for src, dst in ((r, ipb), (b, ipr)):
        p = ping(src, dst, count=20, interval=0.05)
        assert p.transmitted == 20 and p.loss_pct == 0.0, f"ping {src.name} -> {dst}: {p.summary()}"
        ttls = set(re.findall(r"ttl=(\d+)", p.output))
        assert ttls == {"63"}, f"ping {src.name} -> {dst}: reply TTLs {ttls}, expected 63 (one routed hop)"
    # The far gateway answers too (weak host), straight from weftd: TTL 64.
    p = ping(r, BLUE_GW, count=3, interval=0.05)
    assert p.loss_pct == 0.0 and set(re.findall(r"ttl=(\d+)", p.output)) == {"64"}, p.summary()
    bds = {n["name"] for n in node.interfaces() if n.get("driver") == "bvi"}
    assert len(bds) == 2, f"expected two BVIs in show interfaces, got {bds}"


def test_tcp_across_networks(node, container):
    r, b, ipr, ipb = _routed_pair(node, container)
    wait_ping_ok(r, ipb)
    c = tcp_transfer(r, b, ipb, PORT, MB, timeout=120)
    print(f"TCP red->blue: {c['bytes']} bytes in {c['seconds']:.2f} s = {c['bytes'] / c['seconds'] / 1e6:.1f} MB/s")


@pytest.mark.weftd_args("--fib-algorithm", "dxr")
def test_tcp_and_ping_across_networks_on_a_dxr_fib(node, container):
    """The same routed path with the other FIB structure (weftd's default is DIR-24-8)."""
    assert "dxr FIB" in node.log_path.read_text(), "weftd did not log its FIB structure"
    r, b, ipr, ipb = _routed_pair(node, container)
    wait_ping_ok(r, ipb)
    p = ping(b, ipr, count=10, interval=0.05)
    assert p.transmitted == 10 and p.loss_pct == 0.0, p.summary()
    tcp_transfer(r, b, ipb, PORT, MB, timeout=120)


def test_gateway_removed_with_network(node, container):
    node.create_network("red", RED)
    assert any(i.get("driver") == "bvi" for i in node.interfaces())
    node.ctl("network", "delete", "red")
    assert not any(i.get("driver") == "bvi" for i in node.interfaces())
    node.create_network("red", RED)
    r = container("r")
    node.attach(r, "red")
    wait_ping_ok(r, RED_GW)


def test_routing_survives_kill9_restart(node, container):
    r, b, ipr, ipb = _routed_pair(node, container)
    wait_ping_ok(r, ipb)
    node.kill9()
    node.start()
    assert sum(1 for i in node.interfaces() if i.get("driver") == "bvi") == 2, node.interfaces()
    wait_ping_ok(r, ipb)
    p = ping(r, ipb, count=10, interval=0.05)
    assert p.loss_pct == 0.0 and set(re.findall(r"ttl=(\d+)", p.output)) == {"63"}, p.summary()


def test_ttl_expiry_names_the_gateway_as_hop(node, container):
    """A probe with TTL 1 across networks dies at weftd: the sender gets ICMP
    time exceeded from its own gateway (what traceroute's first hop shows)."""
    r, b, ipr, ipb = _routed_pair(node, container)
    wait_ping_ok(r, ipb)
    out = r.run(["ping", "-c", "1", "-W", "2", "-t", "1", ipb], check=False)
    text = out.stdout + out.stderr
    assert re.search(r"From 10\.61\.0\.1\b.*Time to live exceeded", text), f"TTL-1 probe: {text!r}"
    # With a normal TTL the same probe reaches the destination (one routed hop).
    p = ping(r, ipb, count=3, interval=0.05)
    assert p.loss_pct == 0.0, p.summary()
