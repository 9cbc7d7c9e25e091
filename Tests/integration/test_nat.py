"""NAT44: containers masqueraded behind the uplink's address, published ports,
hairpinning, many concurrent flows, and mappings that survive kill -9.

Rig (made by the test, removed at teardown; 192.0.2.x exists only inside it):

    red containers 10.61.0.x --[weftd: bvi 10.61.0.1, masquerade | uplink n<suffix> 192.0.2.2/24]
        <--veth--> outside: eth0 192.0.2.1/24, NO route to 10.61.0.0/24 (only NAT gets replies back)
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from weftlib import RUN_SUFFIX, outside_on_uplink, tcp_transfer, wait_ping_ok, wait_until

RED = "10.61.0.0/24"
UPLINK_ADDR, OUTSIDE_ADDR = "192.0.2.2", "192.0.2.1"
HERE = Path(__file__).parent


@pytest.fixture
def outside(node, container):
    with outside_on_uplink(node, container("out"), UPLINK_ADDR, OUTSIDE_ADDR, f"n{RUN_SUFFIX}"[:15]) as out:
        yield out


def _serve(ns, *argv: str) -> subprocess.Popen:
    p = ns.popen([sys.executable, *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = p.stdout.readline().strip()
    assert line == "ready", f"{argv[0]} did not start: {line!r} {p.stderr.read() if p.poll() is not None else ''}"
    return p


def _curl(ns, url: str, timeout: float = 5) -> str:
    r = ns.run(["curl", "-sS", "--max-time", str(timeout), url], check=False, timeout=timeout + 5)
    assert r.returncode == 0, f"curl {url}: {r.stderr.strip()}"
    return r.stdout.strip()


def _stats(node) -> dict:
    return node.ctl_json("show", "nat", "statistics")


def test_container_reaches_outside_behind_the_node_address(node, container, outside):
    node.create_network("red", RED, "--masquerade")
    r = container("r")
    node.attach(r, "red")
    srv = _serve(outside, str(HERE / "httpecho.py"), OUTSIDE_ADDR, "8000")
    try:
        wait_ping_ok(r, OUTSIDE_ADDR)              # ICMP echo is translated too
        seen = _curl(r, f"http://{OUTSIDE_ADDR}:8000/")
        addr, port = seen.split(":")
        assert addr == UPLINK_ADDR, f"the server must see the node's address, saw {seen}"
        assert 32768 <= int(port) <= 65535, seen
        sessions = node.ctl_json("show", "nat", "sessions")
        tcp = [s for s in sessions if s["protocol"] == "tcp"]
        assert any(s["inside"].startswith(r.ip() + ":") and s["outside"] == seen for s in tcp), sessions
        assert _stats(node)["created"] >= 2
    finally:
        srv.kill()
        srv.wait()

    # Without masquerade the same request has no way back (the outside has no route to 10.61/24).
    node.ctl("detach", "--container", r.cid)
    node.ctl("network", "delete", "red")
    node.create_network("red", RED)
    node.attach(r, "red")
    srv = _serve(outside, str(HERE / "httpecho.py"), OUTSIDE_ADDR, "8000")
    try:
        res = r.run(["curl", "-sS", "--max-time", "2", f"http://{OUTSIDE_ADDR}:8000/"], check=False, timeout=10)
        assert res.returncode != 0, "no masquerade: the reply has no route back"
    finally:
        srv.kill()
        srv.wait()


def test_published_port_hairpin_and_restart(node, container, outside):
    node.create_network("red", RED, "--masquerade")
    web, cli = container("web"), container("cli")
    node.attach(web, "red")
    node.attach(cli, "red")
    ipw = web.ip()
    srv = _serve(web, str(HERE / "httpecho.py"), ipw, "80")
    try:
        m = node.ctl_json("nat", "mapping", "add", "--protocol", "tcp", "--external-port", "8080",
                          "--to", f"{ipw}:80", "--container", web.cid)
        assert m["externalAddress"] == UPLINK_ADDR, m
        wait_ping_ok(outside, UPLINK_ADDR)
        seen = _curl(outside, f"http://{UPLINK_ADDR}:8080/")
        assert seen.startswith(OUTSIDE_ADDR + ":"), f"DNAT keeps the client's address: {seen}"

        # Hairpin: a container reaches the published port through the node's address; the
        # server sees the node's address (so its reply comes back through NAT).
        seen = _curl(cli, f"http://{UPLINK_ADDR}:8080/")
        assert seen.startswith(UPLINK_ADDR + ":"), f"hairpinned request should come from the node address: {seen}"

        # kill -9: the mapping comes back from the store.
        node.kill9()
        node.start()
        assert [(x["protocol"], x["externalPort"]) for x in node.ctl_json("nat", "mapping", "list")] == [("tcp", 8080)]
        wait_until(lambda: outside.run(["curl", "-s", "--max-time", "1", f"http://{UPLINK_ADDR}:8080/"],
                                       check=False, timeout=5).returncode == 0, 15, what="published port after restart")

        # Detaching the container removes the mapping it owns.
        node.ctl("detach", "--container", web.cid)
        assert node.ctl_json("nat", "mapping", "list") == []
    finally:
        srv.kill()
        srv.wait()


def test_ten_thousand_udp_flows_without_port_collisions(node, container, outside):
    node.create_network("red", RED, "--masquerade")
    clients = [container(f"u{i}") for i in range(4)]
    for c in clients:
        node.attach(c, "red")
    wait_ping_ok(clients[0], OUTSIDE_ADDR)
    helper = str(HERE / "udpflows.py")
    srv = _serve(outside, helper, "server", OUTSIDE_ADDR, "9999", "120")
    per = 2500
    try:
        procs = [c.popen([sys.executable, helper, "client", OUTSIDE_ADDR, "9999", c.ip(), "20000", str(per)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for c in clients]
        results = []
        for p in procs:
            out, err = p.communicate(timeout=120)
            assert p.returncode == 0, err[-2000:]
            results.append(json.loads(out.strip().splitlines()[-1]))
        sout, serr = srv.communicate(timeout=60)
        s = json.loads(sout.strip().splitlines()[-1])
    finally:
        if srv.poll() is None:
            srv.kill()
            srv.wait()
    peers = s["peers"]
    total = per * len(clients)
    errors = {f'{e["node"]}/{e["name"]}': e["count"] for e in node.ctl_json("show", "errors") if e["count"]}
    print(f"clients: {results}; server: {s['datagrams']} datagrams from {len(peers)} peers; weftd errors: {errors}")
    assert {a for a, _ in peers} == {UPLINK_ADDR}, "every flow leaves behind the node's address"
    ports = [p for _, p in peers]
    assert len(ports) == len(set(ports)), "no two flows share an outside port"
    assert len(peers) == total, f"{len(peers)} of {total} flows reached the server"
    echoed = sum(r["echoed"] for r in results)
    assert echoed == total, f"{echoed} of {total} replies translated back: {results}"
    st = _stats(node)
    assert st["udpSessions"] >= total and st["refusedOutOfPorts"] == 0 and st["refusedSessionLimit"] == 0, st
    print(f"{total} UDP flows: {len(set(ports))} distinct outside ports, {echoed} replies back; {st}")


def test_cni_port_mappings_and_ip_masq(node, container, outside, tmp_path):
    """weft-cni with the portMappings capability (runtimeConfig, as libcni passes it) and ipMasq."""
    from cnilib import CNIRuntime

    cni = CNIRuntime(node, tmp_path)
    plugin = cni.weft(network="pods", subnet="10.62.0.0/24", ipMasq=True, capabilities={"portMappings": True})
    conf = cni.conflist("weftnat", [plugin])
    pod = container("pod")
    mappings = {"portMappings": [{"hostPort": 8081, "containerPort": 80, "protocol": "tcp"},
                                 {"hostPort": 5353, "containerPort": 53, "protocol": "udp", "hostIP": ""}]}
    add = cni.exec("weft", "ADD", cni.plugin_conf(conf, plugin, runtimeConfig=mappings),
                   container_id=pod.cid, netns=pod.ns.path, ifname="eth0")
    assert add.ok, add
    ip = pod.ip()
    assert node.http("GET", "/v1/networks/pods").json()["masquerade"] is True
    listed = {(m["protocol"], m["externalPort"], m["internalAddress"], m["containerId"])
              for m in node.ctl_json("nat", "mapping", "list")}
    assert listed == {("tcp", 8081, ip, pod.cid), ("udp", 5353, ip, pod.cid)}, listed

    srv = _serve(pod, str(HERE / "httpecho.py"), ip, "80")
    out_srv = _serve(outside, str(HERE / "httpecho.py"), OUTSIDE_ADDR, "8000")
    try:
        wait_ping_ok(outside, UPLINK_ADDR)
        assert _curl(outside, f"http://{UPLINK_ADDR}:8081/").startswith(OUTSIDE_ADDR + ":")
        assert _curl(pod, f"http://{OUTSIDE_ADDR}:8000/").startswith(UPLINK_ADDR + ":"), "ipMasq"
    finally:
        for p in (srv, out_srv):
            p.kill()
            p.wait()

    # DEL detaches the pod, and its published ports go with it.
    d = cni.exec("weft", "DEL", cni.plugin_conf(conf, plugin, runtimeConfig=mappings),
                 container_id=pod.cid, netns=pod.ns.path, ifname="eth0")
    assert d.ok, d
    assert node.ctl_json("nat", "mapping", "list") == []

    # A bad mapping fails the ADD with a clear error and leaves nothing behind.
    bad = cni.exec("weft", "ADD", cni.plugin_conf(conf, plugin, runtimeConfig={"portMappings": [
        {"hostPort": 8082, "containerPort": 80, "protocol": "sctp"}]}),
        container_id=pod.cid, netns=pod.ns.path, ifname="eth0")
    assert not bad.ok and bad.error()["code"] == 7 and "sctp" in bad.error()["msg"], bad
    taken = cni.exec("weft", "ADD", cni.plugin_conf(conf, plugin, runtimeConfig={"portMappings": [
        {"hostPort": 8083, "containerPort": 80}, {"hostPort": 8083, "containerPort": 81}]}),
        container_id=pod.cid, netns=pod.ns.path, ifname="eth0")
    assert not taken.ok and "8083" in taken.error()["msg"], taken
    assert node.attachments() == [] and node.ctl_json("nat", "mapping", "list") == []


def _tcp_in_csum_errors(ns) -> int:
    """TCP segments this namespace's kernel dropped for a bad checksum (/proc/net/snmp)."""
    head, values = [line.split()[1:] for line in ns.run(["cat", "/proc/net/snmp"]).stdout.splitlines()
                    if line.startswith("Tcp:")]
    return int(dict(zip(head, values))["InCsumErrors"])


def test_super_frames_cross_the_nat_whole_with_right_checksums(node, container, outside):
    """A pod's 64 KB TCP super-frames are masqueraded whole (nothing segmented); the outside's
    ACKs come back through out2in.

    With every offload at the kernel's default, a receiving kernel trusts a partial checksum
    (CHECKSUM_PARTIAL) and never checks what NAT made of its pseudo-header sum. The second
    transfer therefore makes the kernel compute it: tx checksumming (so also TSO) off on
    weftd's uplink veth end makes the kernel segment the super-frame and finish each checksum
    from the partial field weftd rewrote, and rx checksumming off on the outside's end makes
    the outside's TCP verify every segment. Offloads are turned off here as a witness, to make
    a wrong checksum visible, not to make the test pass; the first transfer runs with defaults."""
    node.create_network("red", RED, "--masquerade")
    r = container("r")
    node.attach(r, "red")
    wait_ping_ok(r, OUTSIDE_ADDR)
    before = node.error_counters()
    tcp_transfer(r, outside, OUTSIDE_ADDR, 5431, 20)
    after = node.error_counters()
    moved = {k: after.get(k, 0) - before.get(k, 0) for k in after if after.get(k, 0) != before.get(k, 0)}
    assert moved.get("af-packet-input/gso-frames", 0) > 100, moved
    assert moved.get("af-packet-output/large-sent", 0) > 100, moved
    assert not {k: v for k, v in moved.items() if k.startswith("gso-segment/") or k == "af-packet-output/large-send-failed"}, moved
    assert _stats(node)["created"] >= 1

    end = f"n{RUN_SUFFIX}"[:15]
    node.node.run(["ethtool", "-K", end, "tx", "off"])
    outside.run(["ethtool", "-K", "eth0", "rx", "off"])
    errors = _tcp_in_csum_errors(outside)
    before = node.error_counters()
    # Before the large-frame socket went through the qdisc path, every super-frame to a
    # device without TSO was lost here (af-packet-output/large-send-failed) and TCP stalled.
    tcp_transfer(r, outside, OUTSIDE_ADDR, 5433, 20, timeout=60)
    after = node.error_counters()
    assert _tcp_in_csum_errors(outside) == errors, "the outside's TCP saw bad checksums after NAT"
    assert after.get("af-packet-output/large-sent", 0) > before.get("af-packet-output/large-sent", 0), after
    assert after.get("af-packet-output/large-send-failed", 0) == before.get("af-packet-output/large-send-failed", 0), after
