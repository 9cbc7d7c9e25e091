"""Faults behind weftd's back while it runs (issue 9): a container namespace deleted without a
detach is noticed and its attachment, lease and port are freed; a host veth or a TAP deleted by
hand is recreated as it was and the container is reachable again. weftd's attachment watch
sweeps every --watch-interval seconds (0.5 here)."""

import pytest

from weftlib import run, wait_ping_ok, wait_until

pytestmark = pytest.mark.weftd_args("--watch-interval", "0.5")


def test_deleted_netns_is_detached_and_its_lease_freed(node, container):
    # A /30 has one lease: a new attach succeeds only once the orphan's was given back.
    node.create_network("tiny", "10.96.0.0/30")
    a, b = container("a"), container("b")
    att = node.attach(a, "tiny")
    host = att["hostIfName"]
    assert host in node.veths_in_node()

    a.ns.delete()  # the runtime died: no CNI DEL, no weftctl detach

    wait_until(lambda: node.attachment(a.cid) is None, 10, what=f"attachment {a.cid} removed after its netns went")
    assert host not in {i["name"] for i in node.interfaces()}, "the orphan's port is still in the dataplane"
    assert host not in node.node.link_names()
    assert "netns" in node.log_tail() and "is gone" in node.log_tail()
    att_b = node.attach(b, "tiny")
    assert att_b["address"] == att["address"], f"lease not freed: new container got {att_b['address']}"


@pytest.mark.parametrize("mode", ["veth", "tap"])
def test_link_deleted_by_hand_is_recreated(node, container, mode):
    node.create_network("net", "10.96.1.0/24")
    a, b = container("a"), container("b")
    att_a = node.attach(a, "net", "eth0", None, "--attach", mode)
    node.attach(b, "net")
    wait_ping_ok(b, a.ip())
    mac, address = a.mac(), a.ip()
    old_index = a.ns.link("eth0")["ifindex"]

    if mode == "veth":
        run(node.node.cmd(["ip", "link", "del", att_a["hostIfName"]]))  # takes the container end too
    else:
        run(a.ns.cmd(["ip", "link", "del", "eth0"]))

    # A new link (a new ifindex: the sweep may have run between the delete and this check).
    def recreated():
        link = a.ns.link("eth0")
        return link is not None and link["ifindex"] != old_index
    wait_until(recreated, 10, what=f"{mode} of {a.cid} recreated")
    # As it was: same MAC and address, reachable through weftd again.
    wait_ping_ok(b, address)
    assert a.mac() == mac and a.ip() == address
    assert node.attachment(a.cid) is not None
    assert "recreated it" in node.log_tail()
