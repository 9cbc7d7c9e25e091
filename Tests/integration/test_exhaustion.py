"""Exhaustion (issue 9): running out degrades into a counted or explained refusal while the
traffic already flowing keeps flowing. IPAM exhaustion is in test_bad_input.py, the MAC learn
limit in the L2 node tests (testLearnLimitCountsButStillForwards); here: file descriptors and
the packet buffer pool."""

import re
import sys
from pathlib import Path

import pytest

from weftlib import ping, run, tcp_transfer, wait_ping_ok

RAWSEND = str(Path(__file__).with_name("rawsend.py"))


def _nofile(pid: int) -> tuple[str, str]:
    for line in open(f"/proc/{pid}/limits"):
        if line.startswith("Max open files"):
            soft, hard = line.split()[3:5]
            return soft, hard
    raise AssertionError("no open-files limit")


def test_out_of_file_descriptors_is_a_clear_refusal(node, container):
    node.create_network("net", "10.97.0.0/24")
    a, b, c = container("a"), container("b"), container("c")
    node.attach(a, "net")
    node.attach(b, "net")
    wait_ping_ok(b, a.ip())
    veths = node.veths_in_node()
    soft, _ = _nofile(node.pid)

    # Room for the API connection and one more descriptor: the attach runs out midway.
    run(["prlimit", "--pid", str(node.pid), f"--nofile={node.fd_count() + 2}:"])
    try:
        r = node.http("POST", "/v1/attachments", {"containerId": c.cid, "netns": c.ns.path, "network": "net"})
    finally:
        run(["prlimit", "--pid", str(node.pid), f"--nofile={soft}:"])

    assert r.status == 503, f"expected 503, got {r}"
    error = r.json()["error"]
    assert error["code"] == "fds_exhausted", error
    assert "file descriptors" in error["message"] and re.search(r"now \d+/\d+", error["message"]), error
    # Nothing half-built: no veth, no attachment, no interface in the container, no lease.
    assert node.veths_in_node() == veths
    assert node.attachment(c.cid) is None
    assert "eth0" not in c.ns.link_names()
    # Existing containers were never touched (the attachment watch did not mistake
    # "cannot look" for "gone").
    wait_ping_ok(b, a.ip())
    assert {x["containerId"] for x in node.attachments()} == {a.cid, b.cid}

    # With descriptors back, the same attach works and takes the next address.
    att = node.attach(c, "net")
    assert att["address"] == "10.97.0.4/24", att
    wait_ping_ok(c, a.ip())


@pytest.mark.weftd_args("--buffers", "96")
def test_empty_buffer_pool_is_counted_and_traffic_keeps_flowing(node, container):
    """A pool of 96 buffers (a default weftd has 32768): broadcast bursts from two pods need a
    buffer per received frame plus one per flood copy, far more than 96 in one vector. The
    refusals must be counted under their names, and a ping and a TCP transfer between two other
    pods must work during and after the bursts."""
    node.create_network("net", "10.96.0.0/24")
    a, b, c, d = container("a"), container("b"), container("c"), container("d")
    for x in (a, b, c, d):
        node.attach(x, "net")
    wait_ping_ok(c, d.ip())

    def burst(src):
        # A broadcast frame of a local experimental ethertype (0x88B5), 1000 bytes, from the
        # pod's own MAC (the source guard passes it): l2-fwd floods it to every other port.
        frame = bytes.fromhex("ff" * 6 + src.mac().replace(":", "") + "88b5") + bytes(986)
        return src.popen([sys.executable, RAWSEND, "eth0", "40000", frame.hex()])

    senders = [burst(a), burst(b)]
    during = ping(c, d.ip(), count=20, interval=0.05)
    for p in senders:
        assert p.wait(timeout=120) == 0
    errors = node.error_counters()
    refused = errors.get("buffers/alloc-failed", 0) + errors.get("af-packet-input/no-buffers", 0)
    print("refusals:", {k: v for k, v in errors.items() if v}, "ping during:", during.summary().splitlines()[0])
    assert refused > 0, f"the bursts never emptied the pool: {errors}"
    assert during.received > 0, f"no ping got through during the bursts: {during.summary()}"

    # Afterwards nothing is stuck: no loss, and 20 MiB of TCP arrives intact.
    after = ping(c, d.ip(), count=20, interval=0.05)
    assert after.loss_pct == 0.0, after.summary()
    tcp_transfer(c, d, d.ip(), 5301, 20)
