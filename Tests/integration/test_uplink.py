"""The uplink: an interface of weftd's namespace used as a routed port with an
address and a default route to an upstream router, so containers reach an outside
namespace by routing.

Rig (made by the test, removed at teardown with the namespaces; the 192.0.2.x
documentation addresses exist only inside them):

    red container 10.61.0.x --[weftd: bvi 10.61.0.1 | uplink u<suffix> 192.0.2.2/24]
        <--veth--> outside: eth0 192.0.2.1/24, route 10.61.0.0/24 via 192.0.2.2
"""

import re

import pytest

from weftlib import RUN_SUFFIX, ping, run, tcp_transfer, wait_ping_ok

RED, RED_GW = "10.61.0.0/24", "10.61.0.1"
UPLINK_ADDR, OUTSIDE_ADDR = "192.0.2.2", "192.0.2.1"


@pytest.fixture
def outside(node, container):
    """The outside namespace, wired to weftd's namespace by a veth (node end u<suffix>)."""
    out = container("out")
    end = f"u{RUN_SUFFIX}"[:15]
    try:
        run(["ip", "-n", out.ns.name, "link", "add", "eth0", "type", "veth", "peer", "name", end,
             "netns", node.node.name])
        node.node.run(["sysctl", "-q", "-w", f"net.ipv6.conf.{end}.disable_ipv6=1"])
        run(["ip", "-n", node.node.name, "link", "set", end, "up"])
        out.run(["ip", "link", "set", "eth0", "up"])
        out.run(["ip", "addr", "add", f"{OUTSIDE_ADDR}/24", "dev", "eth0"])
        out.run(["ip", "route", "add", RED, "via", UPLINK_ADDR])
        yield out, end
    finally:
        run(["ip", "-n", node.node.name, "link", "del", end], check=False)


def test_container_reaches_outside_via_uplink(node, container, outside):
    out, end = outside
    node.create_network("red", RED)
    r = container("r")
    node.attach(r, "red")
    ipr = r.ip()

    shown = node.ctl_json("uplink", "set", end, "--address", f"{UPLINK_ADDR}/24", "--gateway", OUTSIDE_ADDR)
    assert shown == {"name": end, "address": f"{UPLINK_ADDR}/24", "gateway": OUTSIDE_ADDR}, shown
    assert node.ctl_json("uplink", "show") == shown
    fib = node.ctl_json("show", "fib", "203.0.113.9")
    assert [(x["prefix"], x.get("nextHop"), x.get("interface")) for x in fib] == [("0.0.0.0/0", OUTSIDE_ADDR, end)], fib

    wait_ping_ok(out, UPLINK_ADDR)          # weftd answers on the uplink address
    wait_ping_ok(r, OUTSIDE_ADDR)
    p = ping(r, OUTSIDE_ADDR, count=10, interval=0.05)
    assert p.loss_pct == 0.0 and set(re.findall(r"ttl=(\d+)", p.output)) == {"63"}, p.summary()
    p = ping(out, ipr, count=5, interval=0.05)
    assert p.loss_pct == 0.0, f"outside -> {ipr}: {p.summary()}"

    node.kill9()
    node.start()
    assert node.ctl_json("uplink", "show") == shown
    wait_ping_ok(r, OUTSIDE_ADDR)

    node.ctl("uplink", "clear")
    assert node.ctl("uplink", "show", check=False).returncode == 1
    assert not any(x["prefix"] == "0.0.0.0/0" for x in node.ctl_json("show", "fib"))
    assert end not in {i["name"] for i in node.interfaces()}
    assert ping(r, OUTSIDE_ADDR, count=2, interval=0.1).received == 0


def test_tcp_to_outside_via_uplink(node, container, outside):
    """10 MiB over TCP from a container to a server in the outside namespace,
    routed out through the uplink, arrives intact (sha256 on both ends)."""
    out, end = outside
    node.create_network("red", RED)
    r = container("r")
    node.attach(r, "red")
    node.ctl_json("uplink", "set", end, "--address", f"{UPLINK_ADDR}/24", "--gateway", OUTSIDE_ADDR)
    wait_ping_ok(r, OUTSIDE_ADDR)
    c = tcp_transfer(r, out, OUTSIDE_ADDR, 5402, 10, timeout=120)
    print(f"TCP container->outside: {c['bytes']} bytes in {c['seconds']:.2f} s")
    # Back in, with the outside veth's default offloads (TSO on): its kernel hands the uplink
    # 64 KB TCP super-frames, which cross the graph whole (routed, to the pod's veth, which
    # keeps TSO on too): nothing is segmented on the way.
    before = node.error_counters()
    c = tcp_transfer(out, r, r.ip(), 5403, 10, timeout=120)
    print(f"TCP outside->container: {c['bytes']} bytes in {c['seconds']:.2f} s")
    counters = node.error_counters()
    assert counters.get("af-packet-input/gso-frames", 0) > before.get("af-packet-input/gso-frames", 0), counters
    assert counters.get("af-packet-output/large-sent", 0) > before.get("af-packet-output/large-sent", 0), counters
    assert not {k: v for k, v in counters.items()
                if v and ("gso" in k or "large-send" in k) and k != "af-packet-input/gso-frames"}, counters
