"""`weftctl interface add`: links that already exist in weftd's namespace are bridged, survive a
kill -9 restart, and come out again with `interface delete` (the links themselves stay).

Rig (all made by the test, removed at teardown with the namespaces):

    h1: eth0 10.88.0.1/24 <--veth--> x1... [ weftd in node ] x2... <--veth--> h2: eth0 10.88.0.2/24
"""

import pytest

from weftlib import RUN_SUFFIX, ping, run, wait_ping_ok

H1_IP, H2_IP = "10.88.0.1", "10.88.0.2"


def _veth(node_ns, host, node_end: str) -> None:
    """veth host:eth0 <-> node:node_end, created straight into the two namespaces (never in ours)."""
    run(["ip", "-n", host.ns.name, "link", "add", "eth0", "type", "veth",
         "peer", "name", node_end, "netns", node_ns.name])
    node_ns.run(["sysctl", "-q", "-w", f"net.ipv6.conf.{node_end}.disable_ipv6=1"])
    run(["ip", "-n", node_ns.name, "link", "set", node_end, "up"])
    run(["ip", "-n", host.ns.name, "link", "set", "eth0", "up"])


@pytest.fixture
def rig(node, container):
    """h1 and h2 wired to node ends x1/x2 (names unique to this run); links deleted at teardown."""
    h1, h2 = container("h1"), container("h2")
    x1, x2 = f"x1{RUN_SUFFIX}", f"x2{RUN_SUFFIX}"  # 8 bytes: within IFNAMSIZ
    try:
        _veth(node.node, h1, x1)
        _veth(node.node, h2, x2)
        h1.run(["ip", "addr", "add", f"{H1_IP}/24", "dev", "eth0"])
        h2.run(["ip", "addr", "add", f"{H2_IP}/24", "dev", "eth0"])
        yield h1, h2, x1, x2
    finally:
        # Deleting one end takes its peer along; the namespaces' teardown would too.
        for end in (x1, x2):
            run(["ip", "-n", node.node.name, "link", "del", end], check=False)


def _ping_ok(src, dst_ip: str) -> None:
    wait_ping_ok(src, dst_ip, timeout=15)
    r = ping(src, dst_ip, count=10, interval=0.05)
    assert r.loss_pct == 0.0, f"ping {src.name} -> {dst_ip}: {r.summary()}"


def test_interface_add_bridges_existing_links_across_restart(node, rig):
    h1, h2, x1, x2 = rig
    node.create_network("hn", "10.88.0.0/24")

    out = node.ctl("interface", "add", x1, "--network", "hn").stdout
    assert x1 in out and "af-packet" in out, f"interface add printed:\n{out}"
    added = node.ctl_json("interface", "add", x2, "--network", "hn")
    assert added["name"] == x2 and added["bridgeDomain"] == 1, added
    by_name = {i["name"]: i for i in node.interfaces()}
    assert {x1, x2} <= by_name.keys(), f"show interfaces: {sorted(by_name)}"
    assert by_name[x1]["bridgeDomain"] == 1 and by_name[x1]["driver"] == "af-packet", by_name[x1]

    _ping_ok(h1, H2_IP)

    old_pid = node.pid
    node.kill9()
    node.start()  # same --socket and --state, as the fixture started it
    assert node.pid != old_pid
    names = {i["name"] for i in node.interfaces()}
    assert {x1, x2} <= names, f"show interfaces after restart: {sorted(names)}"
    assert "host interfaces: 2 reopened, 0 missing" in node.log_tail(), node.log_tail()

    _ping_ok(h1, H2_IP)
    _ping_ok(h2, H1_IP)

    # The network cannot go while it has host interfaces; interface delete keeps the links.
    p = node.ctl("network", "delete", "hn", check=False)
    assert p.returncode == 1 and "host interface" in p.stderr, (p.returncode, p.stderr)
    node.ctl("interface", "delete", x1)
    node.ctl("interface", "delete", x2)
    names = {i["name"] for i in node.interfaces()}
    assert not {x1, x2} & names, f"show interfaces after delete: {sorted(names)}"
    assert {x1, x2} <= node.node.link_names(), "interface delete must leave the links alone"
    node.ctl("network", "delete", "hn")


def test_interface_add_errors(node, rig):
    h1, _, x1, x2 = rig
    node.create_network("hn", "10.88.0.0/24")

    def fails(*args: str, status: int = 1) -> str:
        p = node.ctl(*args, check=False)
        assert p.returncode == status, f"weftctl {' '.join(args)}: exit {p.returncode}\n{p.stderr}"
        assert p.stderr.startswith("weftctl: "), p.stderr
        return p.stderr

    assert "network" in fails("interface", "add", x1, "--network", "nope")
    assert "does not exist in weftd's network namespace" in fails(
        "interface", "add", f"nx{RUN_SUFFIX}", "--network", "hn")
    assert "invalid" in fails("interface", "add", "name-of-16-bytes", "--network", "hn")
    fails("interface", "delete", x1)

    node.ctl("interface", "add", x1, "--network", "hn")
    assert "already" in fails("interface", "add", x1, "--network", "hn")

    # An attachment's host veth belongs to the attachment.
    host = node.attach(h1, "hn", ifname="eth1")["hostIfName"]
    assert "attachment" in fails("interface", "add", host, "--network", "hn")
    assert "detach" in fails("interface", "delete", host)
    assert host in {i["name"] for i in node.interfaces()}

    r = node.http("POST", "/v1/interfaces", {"name": f"nx{RUN_SUFFIX}", "network": "hn"})
    assert r.status == 400 and r.json()["error"]["field"] == "name", r
    r = node.http("POST", "/v1/interfaces", {"name": x2, "network": "nope"})
    assert r.status == 404 and r.json()["error"]["field"] == "network", r
    r = node.http("DELETE", f"/v1/interfaces/{host}")
    assert r.status == 409 and r.json()["error"]["code"] == "interface_is_attachment", r
