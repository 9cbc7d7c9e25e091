"""VRFs: networks in one VRF route to each other through weftd, networks in different
VRFs are isolated (even with overlapping subnets), static routes live in their VRF, and
all of it survives kill -9 + restart."""

import re

from weftlib import ping, wait_ping_ok, wait_until

# vrf 1: two networks that route to each other.
V1A, V1A_GW = "10.71.0.0/24", "10.71.0.1"
V1B = "10.72.0.0/24"
# vrf 2: the same subnet as v1a (its IPAM range keeps its hosts' addresses apart from
# v1a's, so a reply could not come from the wrong container unnoticed).
V2 = "10.71.0.0/24"
# vrf 0: an ordinary network.
RED = "10.61.0.0/24"
FAR_PREFIX, FAR_ADDR = "10.80.0.0/16", "10.80.0.1"


def _no_reply(src, dst):
    p = ping(src, dst, count=3, interval=0.1, deadline=1)
    assert p.received == 0, f"{src.name} -> {dst} must not get through: {p.summary()}"


def _ok(src, dst, ttl="63"):
    p = ping(src, dst, count=10, interval=0.05)
    assert p.transmitted == 10 and p.loss_pct == 0.0, f"ping {src.name} -> {dst}: {p.summary()}"
    assert set(re.findall(r"ttl=(\d+)", p.output)) == {ttl}, p.summary()


def _fib(node, vrf, *args):
    return node.ctl_json("show", "fib", *args, "--vrf", str(vrf))


def test_vrfs_isolate_networks_and_survive_restart(node, container):
    node.create_network("v1a", V1A, "--vrf", "1")
    node.create_network("v1b", V1B, "--vrf", "1")
    node.create_network("v2", V2, "--vrf", "2", "--range-start", "10.71.0.100", "--range-end", "10.71.0.120")
    node.create_network("red", RED)
    nets = {n["name"]: n.get("vrf", 0) for n in node.ctl_json("network", "list")}
    assert nets == {"v1a": 1, "v1b": 1, "v2": 2, "red": 0}, nets

    # Overlap: refused within a VRF, and the VRF id is checked.
    dup = node.ctl("network", "create", "dup", "--subnet", "10.72.0.0/25", "--vrf", "1", check=False)
    assert dup.returncode == 1 and "overlaps" in dup.stderr, dup.stderr
    bad = node.http("POST", "/v1/networks", {"name": "bad", "subnet": "10.73.0.0/24", "vrf": 5000})
    assert bad.status == 400 and bad.json()["error"]["field"] == "vrf", bad
    masq = node.http("POST", "/v1/networks", {"name": "masq", "subnet": "10.74.0.0/24", "vrf": 1, "masquerade": True})
    assert masq.status == 400 and masq.json()["error"]["field"] == "masquerade", masq

    a, b, c, r = container("a"), container("b"), container("c"), container("r")
    node.attach(a, "v1a")
    node.attach(b, "v1b", "eth0", None, "--no-source-guard")   # b answers for FAR_PREFIX too
    node.attach(c, "v2")
    node.attach(r, "red")
    ipa, ipb, ipc, ipr = a.ip(), b.ip(), c.ip(), r.ip()
    assert ipa.startswith("10.71.0.") and ipb.startswith("10.72.0.") and ipr.startswith("10.61.0."), (ipa, ipb, ipr)
    assert ipc == "10.71.0.100", ipc
    b.run(["ip", "addr", "add", f"{FAR_ADDR}/32", "dev", "lo"])

    # Each VRF's table holds its own networks only.
    v1 = {x["prefix"]: x for x in _fib(node, 1)}
    v2 = {x["prefix"]: x for x in _fib(node, 2)}
    v0 = {x["prefix"]: x for x in node.ctl_json("show", "fib")}
    assert v1[V1A]["kind"] == "connected" and v1[V1B]["kind"] == "connected" and RED not in v1, sorted(v1)
    assert v2[V2]["kind"] == "connected" and V1B not in v2 and RED not in v2, sorted(v2)
    assert RED in v0 and V1A not in v0 and V1B not in v0, sorted(v0)
    assert all(x.get("vrf") == 1 for x in v1.values()), v1

    # A static route in vrf 1 via b.
    node.ctl("route", "add", FAR_PREFIX, "via", ipb, "--vrf", "1")
    assert node.ctl_json("route", "list", "--vrf", "1") == [{"prefix": FAR_PREFIX, "nextHop": ipb, "vrf": 1}]
    assert [x["prefix"] for x in _fib(node, 1, "10.80.3.3")] == [FAR_PREFIX]
    assert _fib(node, 2, "10.80.3.3") == [] and node.ctl_json("show", "fib", "10.80.3.3") == []

    def check():
        # Same VRF: routed (one hop each way), the static route too.
        wait_ping_ok(a, ipb)
        _ok(a, ipb)
        _ok(b, ipa)
        wait_ping_ok(a, FAR_ADDR)
        _ok(a, FAR_ADDR)
        # vrf 2 works on its own: its gateway (same address as v1a's) answers from weftd.
        wait_ping_ok(c, V1A_GW)
        _ok(c, V1A_GW, ttl="64")
        # Across VRFs nothing gets through, in any direction, static route included.
        _no_reply(c, ipb)
        _no_reply(c, FAR_ADDR)
        _no_reply(b, ipc)          # in vrf 1, 10.71.0.100 is asked for on v1a, where nobody has it
        _no_reply(c, ipa)          # in vrf 2, v1a's host does not exist
        _no_reply(r, ipb)          # vrf 0 reaches neither
        _no_reply(a, ipr)
        _no_reply(r, "10.72.0.1")  # not even vrf 1's gateways

    check()

    node.kill9()
    node.start()
    nets = {n["name"]: n.get("vrf", 0) for n in node.ctl_json("network", "list")}
    assert nets == {"v1a": 1, "v1b": 1, "v2": 2, "red": 0}, nets
    assert node.ctl_json("route", "list", "--vrf", "1") == [{"prefix": FAR_PREFIX, "nextHop": ipb, "vrf": 1}]
    assert [x["prefix"] for x in _fib(node, 1, FAR_PREFIX)] == [FAR_PREFIX]
    check()

    # Deleting: the route is vrf 1's, and it holds v1b until it goes.
    missing = node.ctl("route", "del", FAR_PREFIX, check=False)
    assert missing.returncode == 1 and "no static route" in missing.stderr, missing.stderr
    node.ctl("route", "del", FAR_PREFIX, "--vrf", "1")
    assert node.ctl_json("route", "list") == []
    _no_reply(a, FAR_ADDR)
    node.ctl("route", "add", FAR_PREFIX, "via", ipb, "--vrf", "1")
    node.detach(b.cid)
    held = node.ctl("network", "delete", "v1b", check=False)
    assert held.returncode == 1 and "route" in held.stderr, held.stderr
    node.ctl("route", "del", FAR_PREFIX, "--vrf", "1")
    node.ctl("network", "delete", "v1b")
    # v1a keeps vrf 1 (and its table) alive; its container still reaches its gateway.
    _ok(a, V1A_GW, ttl="64")
