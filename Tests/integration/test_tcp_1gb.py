"""1 GiB TCP transfers with sha256 compared on both ends, through every path a super-frame can
take (issue 19): each attach mode (veth af-packet, veth af-xdp, tap) both ways, between pods
with offloads on (the kernel's defaults: TSO/GSO, checksum offload) and a pod with them off, in
one network; routed between two networks; masqueraded to an "outside" namespace and back in
through a published port; across VXLAN to a second weftd and to a kernel vxlan node.

Each transfer is 1 GiB of random bytes (tcpxfer.py); the rigs are the ones the other tests and
benchmarks/tcp.py build, removed at teardown."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from weftlib import tcp_transfer, wait_ping_ok
from test_nat import OUTSIDE_ADDR, UPLINK_ADDR, outside  # noqa: F401  (fixture)

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import tcp as tcp_bench  # noqa: E402

GIB = 1024   # MiB


def _offloads_off(c) -> None:
    c.run(["ethtool", "-K", "eth0", "tx", "off", "tso", "off", "gso", "off"])


@pytest.mark.parametrize("mode", ["af-packet", "af-xdp", "tap"])
def test_one_gib_each_way_between_pods_with_offloads_on_and_off(node, container, mode):
    opts = {"af-packet": [], "af-xdp": ["--driver", "af-xdp"], "tap": ["--attach", "tap"]}[mode]
    node.create_network("big", "10.95.0.0/24")
    a, b, off = container("a"), container("b"), container("off")
    for c in (a, b, off):
        node.attach(c, "big", "eth0", None, *opts)
    _offloads_off(off)
    wait_ping_ok(a, b.ip())
    wait_ping_ok(a, off.ip())
    before = node.error_counters()
    port = 5600
    for src, dst in ((a, b), (b, a), (a, off), (off, a)):
        c = tcp_transfer(src, dst, dst.ip(), port, GIB, timeout=300)
        print(f"{mode}: {src.ns.name[-6:]} -> {dst.ns.name[-6:]}: 1 GiB in {c['seconds']:.2f} s")
        port += 1
    moved = node.counters_moved(before)
    print(f"{mode} counters that moved: {moved}")
    if mode == "af-packet":
        assert moved.get("af-packet-input/gso-frames", 0) > 1000, "super-frames crossed whole"
        # show runtime counts the bytes the I/O nodes moved: every transfer in and out once.
        rt = {n["name"]: n for n in node.runtime()}
        for name in ("af-packet-input", "af-packet-output"):
            assert rt[name]["bytes"] >= 4 * (GIB << 20) and rt[name]["clocksPerByte"] > 0, rt[name]
    if mode == "af-xdp":
        assert moved.get("gso-segment/segmented", 0) == 0, "af-xdp pods send MTU frames (attach turns TSO off)"


def test_one_gib_routed_between_two_networks(node, container):
    node.create_network("red", "10.96.0.0/24")
    node.create_network("blue", "10.97.0.0/24")
    r, b = container("r"), container("b")
    node.attach(r, "red")
    node.attach(b, "blue")
    wait_ping_ok(r, b.ip())
    before = node.error_counters()
    tcp_transfer(r, b, b.ip(), 5610, GIB, timeout=300)
    tcp_transfer(b, r, r.ip(), 5611, GIB, timeout=300)
    moved = node.counters_moved(before)
    assert moved.get("af-packet-output/large-sent", 0) > 1000, f"routed whole: {moved}"


def test_one_gib_through_nat44_out_and_through_a_published_port_in(node, container, outside):  # noqa: F811
    node.create_network("red", "10.61.0.0/24", "--masquerade")
    r = container("r")
    node.attach(r, "red")
    wait_ping_ok(r, OUTSIDE_ADDR)
    tcp_transfer(r, outside, OUTSIDE_ADDR, 5620, GIB, timeout=300)
    node.ctl_json("nat", "mapping", "add", "--protocol", "tcp", "--external-port", "8621",
                  "--to", f"{r.ip()}:5621", "--container", r.cid)
    wait_ping_ok(outside, UPLINK_ADDR)
    tcp_transfer(outside, r, r.ip(), 5621, GIB, timeout=300, connect=(UPLINK_ADDR, 8621))


@pytest.mark.parametrize("mode", ["weft-vxlan", "weft-vxlan-to-kernel"])
def test_one_gib_each_way_across_vxlan(weft_bins, mode):
    rig = tcp_bench.Rig(mode)   # two node namespaces, a veth underlay, pods a and b
    try:
        tcp_transfer(rig.a, rig.b, rig.b.ip(), 5630, GIB, timeout=300)
        tcp_transfer(rig.b, rig.a, rig.a.ip(), 5631, GIB, timeout=300)
        moved = rig.weftds[0].error_counters()
        assert moved.get("vxlan4-encap/udp-gso-frames", 0) > 1000, f"super-frames left as UDP GSO frames: {moved}"
        bad = {k: v for k, v in moved.items() if v and (k.startswith("vxlan4") and k != "vxlan4-encap/udp-gso-frames"
                                                      or k.startswith("gso-segment/") or "failed" in k)}
        # A ring kick can fail with ENOBUFS when the peer veth's backlog is full: congestion
        # loss TCP recovers from, seen once in 2 GiB; a handful is not a bug, a stream of them is.
        assert bad.pop("af-packet-output/tx-kick-failed", 0) < 20, moved
        assert not bad, bad
    finally:
        rig.close()
