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

import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from weftlib import RUN_SUFFIX, Netns, Weftd, ping, run, tcp_transfer, wait_ping_ok, wait_until

SUBNET, VNI = "10.99.0.0/24", 4242
ADDR_A, ADDR_B = "192.0.2.1", "192.0.2.2"


def _underlay(a: Netns, b: Netns) -> tuple[str, str]:
    """A veth between namespaces a and b, IPv6 off, up; the kernel's default offloads stay on
    (checksum offload, TSO/GSO, UDP-tunnel segmentation). Returns the two names."""
    ea, eb = f"uA{RUN_SUFFIX}"[:15], f"uB{RUN_SUFFIX}"[:15]
    run(["ip", "-n", a.name, "link", "add", ea, "type", "veth", "peer", "name", eb, "netns", b.name])
    for ns, end in ((a, ea), (b, eb)):
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

    merged_before = node_b.error_counters().get("af-packet-output/gro-merged", 0)
    c = tcp_transfer(a1, b1, ipb, 5420, 100)
    print(f"TCP a1 -> b1 over VXLAN: 100 MiB in {c['seconds']:.2f} s")
    # The segments node A sent one per datagram reach b1 as super-frames again (sha256 checked above).
    merged = node_b.error_counters().get("af-packet-output/gro-merged", 0) - merged_before
    assert merged > 10_000, f"node B joined only {merged} segments towards b1"
    [t] = _tunnels(node)
    # b1's ACKs come back through the tunnel: a few hundred, since b1 acknowledges super-frames.
    assert t["txPackets"] > 70_000 and t["rxPackets"] > 100, t
    errors = {(e["node"], e["name"]): e["count"] for e in node.ctl_json("show", "errors") if e["count"]}
    # a1's TCP super-frames left as UDP GSO frames of VXLAN datagrams (counted, not dropped).
    assert errors.pop(("vxlan4-encap", "udp-gso-frames"), 0) > 1000, errors
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

    # Every veth keeps the kernel's default offloads: the kernel side's TCP leaves its
    # checksum partial under VXLAN and its vxlan device hands the underlay veth 64 KB
    # UDP-tunnel GSO frames, which weftd must receive whole and segment (issue 18.1).
    before = node.error_counters()
    c = tcp_transfer(h, a1, ipa, 5421, 100)
    print(f"TCP kernel-VTEP host -> weft container: 100 MiB in {c['seconds']:.2f} s")
    c = tcp_transfer(a1, h, "10.99.0.200", 5422, 100)
    print(f"TCP weft container -> kernel-VTEP host: 100 MiB in {c['seconds']:.2f} s")
    for args, direction in (([], "kernel host -> weft pod"), (["-R"], "weft pod -> kernel host")):
        srv = a1.popen(["iperf3", "-s", "-1", "-B", ipa], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_until(lambda: "5201" in a1.run(["ss", "-ltn"]).stdout, 5, what="iperf3 server")
            out = h.run(["iperf3", "-c", ipa, "-t", "2", "-J", *args], timeout=30).stdout
        finally:
            srv.wait(timeout=10)
        gbps = json.loads(out)["end"]["sum_received"]["bits_per_second"] / 1e9
        print(f"iperf3 {direction}: {gbps:.2f} Gbit/s")
        assert gbps > 0.05, f"iperf3 {direction}: {gbps} Gbit/s"
    after = node.error_counters()
    moved = {k: v - before.get(k, 0) for k, v in after.items() if v != before.get(k, 0)}
    print(f"counters that moved: {moved}")
    assert moved.get("af-packet-input/gso-segmented", 0) > 0, \
        f"the kernel VTEP sent no GSO frames: is tx-udp_tnl-segmentation off on its veth? {moved}"
    # And weftd sent the container's super-frames to the kernel VTEP as UDP GSO frames, which
    # the kernel's vxlan socket takes (it cuts them back into datagrams itself).
    assert moved.pop("vxlan4-encap/udp-gso-frames", 0) > 0, moved
    bad = {k: v for k, v in moved.items() if k.startswith("vxlan4") or "gso-bad" in k or "gso-unsupported" in k
           or k.endswith("/truncated") or k.endswith("frame-too-long")}
    assert not bad, f"no drops expected on the VXLAN path: {bad}"


def test_outer_udp_checksum_is_verified(node, container, kernel_vtep):
    """VXLAN whose outer UDP checksum is wrong (and not zero) is dropped as
    vxlan4-input/bad-udp-checksum and not decapsulated (RFC 1122 4.1.3.4; Linux verifies before
    vxlan sees it). The same frame with the right checksum, and with checksum 0 (none), is.
    Two witnesses of decapsulation: a1's kernel heard the inner ARP request (it keeps a neighbour
    entry for the sender), and weftd learned the inner source MAC (one per case) on the tunnel."""
    import struct

    from test_hostile_input import BCAST, arp, checksum, eth, ip, ipv4, mac

    ea, kv, h = kernel_vtep
    node.ctl("uplink", "set", ea, "--address", f"{ADDR_A}/24")
    node.create_network("ov", SUBNET, "--vni", str(VNI), "--range-start", "10.99.0.10", "--range-end", "10.99.0.99")
    tunnel = node.ctl_json("tunnel", "add", "--network", "ov", "--remote", ADDR_B)
    a1 = container("a1")
    node.attach(a1, "ov")
    wait_ping_ok(a1, "10.99.0.200")   # the tunnel works both ways with the kernel's own frames
    bd = next(i["bridgeDomain"] for i in node.interfaces() if i["name"] == tunnel["name"])

    uplink_mac = mac(next(i["mac"] for i in node.interfaces() if i["name"] == ea))
    kv_mac = mac(kv.ns.mac("eth0"))

    def inner_mac(sender: str) -> str:
        return "02:00:00:00:77:%02x" % int(sender.rsplit(".", 1)[1])

    def frame(udp_checksum: str, sender: str) -> bytes:
        """An ARP request from `sender` (behind the kernel VTEP, its own inner MAC) for a1, in
        VXLAN with the outer UDP checksum right, wrong or zero."""
        inner = eth(BCAST, mac(inner_mac(sender)), 0x0806,
                    arp(1, mac(inner_mac(sender)), sender, bytes(6), a1.ip()))
        vxlan = struct.pack("!BBHI", 0x08, 0, 0, VNI << 8) + inner
        length = 8 + len(vxlan)
        header = struct.pack("!HHHH", 40000, 4789, length, 0)
        pseudo = ip(ADDR_B) + ip(ADDR_A) + struct.pack("!BBH", 0, 17, length)
        right = checksum(pseudo + header + vxlan) or 0xFFFF
        value = {"right": right, "wrong": right ^ 0x5555, "zero": 0}[udp_checksum]
        return eth(uplink_mac, kv_mac, 0x0800, ipv4(ADDR_B, ADDR_A, header[:6] + struct.pack("!H", value) + vxlan))

    def a1_heard(sender: str) -> bool:
        """a1's kernel answered an ARP request from `sender`: it keeps a neighbour entry for it."""
        return "lladdr" in a1.run(["ip", "-4", "neigh", "show", sender]).stdout

    def learned_on_tunnel(sender: str) -> bool:
        """weftd's bridge domain learned the inner source MAC, on the tunnel."""
        macs = {m["mac"].lower(): m["interface"] for m in node.bridge_domain(bd).get("macs") or []}
        return macs.get(inner_mac(sender)) == tunnel["name"]

    def bad_checksums() -> int:
        return node.error_counters().get("vxlan4-input/bad-udp-checksum", 0)

    def send(udp_checksum: str, sender: str) -> None:
        kv.run([sys.executable, str(Path(__file__).with_name("rawsend.py")), "eth0", "5", frame(udp_checksum, sender).hex()])

    before = bad_checksums()
    send("wrong", "10.99.0.203")
    wait_until(lambda: bad_checksums() - before >= 5, 5, what="5 frames with a wrong checksum counted")
    time.sleep(0.5)
    assert bad_checksums() - before == 5
    assert not a1_heard("10.99.0.203"), "a frame with a wrong outer UDP checksum was decapsulated"
    assert not learned_on_tunnel("10.99.0.203"), "weftd learned the inner MAC of a frame with a wrong checksum"
    for udp_checksum, sender in (("right", "10.99.0.201"), ("zero", "10.99.0.202")):
        send(udp_checksum, sender)
        wait_until(lambda: a1_heard(sender), 5, what=f"a1 to hear the ARP in VXLAN with a {udp_checksum} checksum")
        assert learned_on_tunnel(sender), f"{udp_checksum} checksum: inner MAC not learned on {tunnel['name']}"
    assert bad_checksums() - before == 5
    assert not a1_heard("10.99.0.203") and not learned_on_tunnel("10.99.0.203")
