"""Detach removes both veth ends, the attachment and its lease."""

from weftlib import wait_ping_ok


def test_detach_removes_veths(node, container):
    node.create_network("net", "10.95.0.0/24")
    a, b = container("a"), container("b")
    att_a = node.attach(a, "net")
    att_b = node.attach(b, "net")
    host_a, host_b = att_a["hostIfName"], att_b["hostIfName"]
    assert {host_a, host_b} <= node.veths_in_node(), (
        f"host veths {host_a}, {host_b} not in node ns: {node.node.link_names()}")
    assert "eth0" in a.ns.link_names()
    wait_ping_ok(b, a.ip())

    node.detach(a.cid)

    assert host_a not in node.node.link_names(), f"{host_a} still in node ns after detach"
    assert "eth0" not in a.ns.link_names(), f"eth0 still in {a.name}: {a.ns.link_names()}"
    assert node.attachment(a.cid) is None, "attachment still served after detach"
    assert a.cid not in {x["containerId"] for x in node.attachments()}
    # the other container is untouched
    assert host_b in node.node.link_names()
    assert node.attachment(b.cid) is not None
    assert b.ip() == att_b["address"].split("/")[0]
    # and interfaces no longer lists the detached port
    names = {i["name"] for i in node.interfaces()}
    assert host_a not in names, f"show interfaces still lists {host_a}: {names}"


def test_detach_frees_lease(node, container):
    # A /30 has exactly one lease (.2; .1 is reserved): the next attach succeeds only if
    # detach gave it back.
    node.create_network("tiny", "10.95.1.0/30")
    a, b = container("a"), container("b")
    att_a = node.attach(a, "tiny")
    assert att_a["address"] == "10.95.1.2/30", att_a
    node.detach(a.cid)
    att_b = node.attach(b, "tiny")
    assert att_b["address"] == att_a["address"], (
        f"new container got {att_b['address']}, expected the freed {att_a['address']}")
    assert b.ip() == "10.95.1.2"
