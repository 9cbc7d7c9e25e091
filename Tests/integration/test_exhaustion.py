"""Exhaustion (issue 9): running out degrades into a counted or explained refusal while the
traffic already flowing keeps flowing. IPAM exhaustion is in test_bad_input.py, the MAC learn
limit in the L2 node tests (testLearnLimitCountsButStillForwards); here: file descriptors."""

import re

from weftlib import run, wait_ping_ok


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
