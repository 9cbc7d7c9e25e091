"""VXLAN: one network spanning two nodes, and a Linux kernel VTEP as the remote.

Rig (made by the tests, removed at teardown with the namespaces; 192.0.2.x and
10.99.0.x exist only inside them):

    node A: weftd, uplink uA 192.0.2.1/24 --veth-- uB 192.0.2.2/24 uplink, weftd :node B
            network ov 10.99.0.0/24 VNI 4242,           network ov, VNI 4242,
            IPAM .10-.99, tunnel -> 192.0.2.2            IPAM .100-.199, tunnel -> 192.0.2.1
            container a1                                 container b1

Interop: node B is replaced by a namespace whose kernel `vxlan` device (same VNI,
port 4789) sits in a Linux bridge with a veth to a host namespace (10.99.0.200).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from weftlib import RUN_SUFFIX, Netns, Weftd, ping, run, tcp_transfer, wait_ping_ok, wait_until

SUBNET, VNI = "10.99.0.0/24", 4242
ADDR_A, ADDR_B = "192.0.2.1", "192.0.2.2"


def _underlay(a: Netns, b: Netns) -> tuple[str, str]:
    """A veth between namespaces a and b, offloads off, IPv6 off, up. Returns the two names."""
    ea, eb = f"uA{RUN_SUFFIX}"[:15], f"uB{RUN_SUFFIX}"[:15]
    run(["ip", "-n", a.name, "link", "add", ea, "type", "veth", "peer", "name", eb, "netns", b.name])
    for ns, end in ((a, ea), (b, eb)):
        ns.run(["ethtool", "-K", end, "tso", "off", "gso", "off", "tx", "off"])
        ns.run(["sysctl", "-q", "-w", f"net.ipv6.conf.{end}.disable_ipv6=1"])
        ns.run(["ip", "link", "set", end, "up"])
    return ea, eb


@pytest.fixture
def node_b(request, weft_bins, unique):
    """A second weftd in its own node namespace (the `node` fixture is node A)."""
    ns = Netns(unique("nodeb"))
    tmp = Path(tempfile.mkdtemp(prefix="weft-it-"))
    d = Weftd(ns, tmp)
    try:
        d.start()
        yield d
    finally:
        failed = getattr(request.node, "rep_call", None)
        if failed is not None and failed.failed:
            sys.stderr.write(f"\n--- weftd B log ({d.log_path}) ---\n{d.log_tail(80)}\n")
        d.stop()
        ns.delete()
        shutil.rmtree(tmp, ignore_errors=True)





def _tunnels(d: Weftd) -> list[dict]:
    return d.ctl_json("show", "vxlan", "tunnels")


def test_network_spans_two_nodes(node, node_b, container):
    ea, eb = _underlay(node.node, node_b.node)
    node.ctl("uplink", "set", ea, "--address", f"{ADDR_A}/24")
    node_b.ctl("uplink", "set", eb, "--address", f"{ADDR_B}/24")
    node.create_network("ov", SUBNET, "--vni", str(VNI), "--range-start", "10.99.0.10", "--range-end", "10.99.0.99")
    node_b.create_network("ov", SUBNET, "--vni", str(VNI), "--range-start", "10.99.0.100", "--range-end", "10.99.0.199")
    ta = node.ctl_json("tunnel", "add", "--network", "ov", "--remote", ADDR_B)
    tb = node_b.ctl_json("tunnel", "add", "--network", "ov", "--remote", ADDR_A)
    assert (ta["local"], ta["remote"], ta["vni"], ta["port"], ta["mtu"]) == (ADDR_A, ADDR_B, VNI, 4789, 1450), ta
    net = node.ctl_json("network", "list")
    assert [(n["name"], n["mtu"], n["vni"], n["remoteVteps"]) for n in net] == [("ov", 1450, VNI, [ADDR_B])], net

    a1, b1 = container("a1"), container("b1")
    node.attach(a1, "ov")
    node_b.attach(b1, "ov")
    ipa, ipb = a1.ip(), b1.ip()
    assert ipa == "10.99.0.10" and ipb == "10.99.0.100", (ipa, ipb)
    assert a1.ns.link("eth0")["mtu"] == 1450, "attach sets the spanning network's MTU in the container"

    wait_ping_ok(a1, ipb)
    for size in (56, 1450 - 28):
        p = ping(a1, ipb, count=20, interval=0.02, size=size)
        assert p.loss_pct == 0.0, f"size {size}: {p.summary()}"
        p = ping(b1, ipa, count=20, interval=0.02, size=size)
        assert p.loss_pct == 0.0, f"size {size} back: {p.summary()}"

    # The ARP broadcast crossed the tunnel; each node learned the other's container MAC on its tunnel.
    macs_b = {m["mac"]: m["interface"] for m in node_b.bridge_domain(1)["macs"]}
    assert macs_b.get(a1.mac()) == tb["name"], macs_b
    macs_a = {m["mac"]: m["interface"] for m in node.bridge_domain(1)["macs"]}
    assert macs_a.get(b1.mac()) == ta["name"], macs_a

    c = tcp_transfer(a1, b1, ipb, 5420, 100)
    print(f"TCP a1 -> b1 over VXLAN: 100 MiB in {c['seconds']:.2f} s")
    [t] = _tunnels(node)
    assert t["txPackets"] > 70_000 and t["rxPackets"] > 1000, t
    errors = {(e["node"], e["name"]): e["count"] for e in node.ctl_json("show", "errors") if e["count"]}
    bad = {k: v for k, v in errors.items() if k[0].startswith("vxlan")}
    assert not bad, f"no VXLAN drops expected: {bad}"

    # kill -9 and restart: the tunnel comes back from the store, traffic resumes.
    node.kill9()
    node.start()
    assert [x["name"] for x in _tunnels(node)] == [ta["name"]]
    wait_ping_ok(a1, ipb)
    assert ping(a1, ipb, count=10, interval=0.05).loss_pct == 0.0

    node.ctl("tunnel", "delete", ta["name"])
    assert _tunnels(node) == []
    assert ping(a1, ipb, count=3, interval=0.1).received == 0


@pytest.fixture
def kernel_vtep(node, container):
    """The remote VTEP is the Linux kernel: namespace `kv` with eth0 192.0.2.2, vxlan0
    (VNI 4242, port 4789) in bridge br0 with a veth to host `h` (10.99.0.200)."""
    kv, h = container("kv"), container("h")
    ea, eb = _underlay(node.node, kv.ns)
    kv.run(["ip", "link", "set", eb, "name", "eth0"])
    kv.run(["ip", "addr", "add", f"{ADDR_B}/24", "dev", "eth0"])
    kv.run(["ip", "link", "set", "eth0", "up"])
    kv.run(["ip", "link", "add", "vxlan0", "type", "vxlan", "id", str(VNI), "dstport", "4789",
            "local", ADDR_B, "remote", ADDR_A, "dev", "eth0", "nolearning"])
    kv.run(["ip", "link", "add", "br0", "type", "bridge"])
    kv.run(["ip", "link", "set", "vxlan0", "master", "br0", "up"])
    run(["ip", "-n", kv.ns.name, "link", "add", "hv", "type", "veth", "peer", "name", "eth0", "netns", h.ns.name])
    kv.run(["ip", "link", "set", "hv", "master", "br0", "up"])
    kv.run(["ip", "link", "set", "br0", "up"])
    h.run(["ip", "link", "set", "eth0", "mtu", "1450", "up"])
    h.run(["ethtool", "-K", "eth0", "tx", "off", "tso", "off", "gso", "off"])
    h.run(["ip", "addr", "add", "10.99.0.200/24", "dev", "eth0"])
    return ea, kv, h


def test_kernel_vxlan_device_as_remote_vtep(node, container, kernel_vtep, tmp_path):
    ea, kv, h = kernel_vtep
    node.ctl("uplink", "set", ea, "--address", f"{ADDR_A}/24")
    node.create_network("ov", SUBNET, "--vni", str(VNI), "--range-start", "10.99.0.10", "--range-end", "10.99.0.99")
    t = node.ctl_json("tunnel", "add", "--network", "ov", "--remote", ADDR_B)
    a1 = container("a1")
    node.attach(a1, "ov")
    ipa = a1.ip()

    pcap = tmp_path / "underlay.pcap"
    dump = kv.popen(["tcpdump", "-n", "-U", "-i", "eth0", "-w", str(pcap), "udp", "port", "4789"],
                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_until(lambda: pcap.exists(), 5, what="tcpdump to open its file")
        wait_ping_ok(a1, "10.99.0.200")
        p = ping(a1, "10.99.0.200", count=10, interval=0.05, size=1400)
        assert p.loss_pct == 0.0, p.summary()
        p = ping(h, ipa, count=10, interval=0.05)
        assert p.loss_pct == 0.0, f"kernel side -> weft: {p.summary()}"
        c = tcp_transfer(h, a1, ipa, 5421, 10)
        print(f"TCP kernel-VTEP host -> weft container: 10 MiB in {c['seconds']:.2f} s")
        c = tcp_transfer(a1, h, "10.99.0.200", 5422, 10)
        print(f"TCP weft container -> kernel-VTEP host: 10 MiB in {c['seconds']:.2f} s")
    finally:
        dump.terminate()
        dump.wait(timeout=10)

    # tshark decodes the underlay frames as valid VXLAN carrying our VNI, both directions.
    out = run(["tshark", "-r", str(pcap), "-T", "fields", "-e", "ip.src", "-e", "vxlan.vni", "-e", "vxlan.flags",
               "-e", "_ws.malformed", "-e", "_ws.expert.severity"], timeout=60)
    rows = [line.split("\t") for line in out.stdout.splitlines() if line.strip()]
    assert len(rows) > 40, f"expected VXLAN frames in the capture, got {len(rows)}"
    sources = {r[0].split(",")[0] for r in rows}
    assert sources == {ADDR_A, ADDR_B}, sources
    vnis = {r[1] for r in rows}
    assert vnis == {str(VNI)}, vnis
    assert not any(len(r) > 3 and r[3] for r in rows), "tshark flagged malformed frames"
    icmp = run(["tshark", "-r", str(pcap), "-Y", f"vxlan && icmp && ip.src == {ipa}"], timeout=60)
    assert len(icmp.stdout.splitlines()) >= 10, icmp.stdout

    [shown] = node.ctl_json("show", "vxlan", "tunnels")
    assert shown["name"] == t["name"] and shown["rxPackets"] > 0 and shown["txPackets"] > 0, shown
