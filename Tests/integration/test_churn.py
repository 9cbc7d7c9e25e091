"""20 attach/detach cycles leave nothing behind and do not leak file descriptors."""

from weftlib import wait_until

CYCLES = 20


def test_churn(node, container):
    # /30: a single lease, so every cycle's attach also proves the previous detach freed it.
    node.create_network("churn", "10.97.0.0/30")
    c = container("c")

    # warm-up cycle: first use may open files lazily (database WAL, netlink sockets...)
    node.attach(c, "churn", container_id=f"{c.cid}-warm")
    node.detach(f"{c.cid}-warm")
    base_fds = node.fd_count()

    for i in range(CYCLES):
        cid = f"{c.cid}-{i}"
        att = node.attach(c, "churn", container_id=cid)
        assert att["address"] == "10.97.0.2/30", f"cycle {i}: {att}"
        assert att["hostIfName"] in node.veths_in_node(), f"cycle {i}: host veth missing"
        assert c.ip() == "10.97.0.2", f"cycle {i}: container address {c.ip()}"
        node.detach(cid)
        assert "eth0" not in c.ns.link_names(), f"cycle {i}: eth0 left in container"

    assert node.veths_in_node() == set(), f"veths left in node ns: {node.veths_in_node()}"
    assert node.attachments() == [], f"attachments left: {node.attachments()}"
    assert c.ns.link_names() == {"lo"}, f"links left in container: {c.ns.link_names()}"
    names = {i["name"] for i in node.interfaces()}
    assert not any(n.startswith("wf") for n in names), f"interfaces left: {names}"

    # fds closed on detach may be released asynchronously; give it a bounded moment.
    try:
        wait_until(lambda: node.fd_count() <= base_fds + 2, timeout=5,
                   what="fd count to settle")
    except AssertionError:
        raise AssertionError(f"weftd fds grew from {base_fds} to {node.fd_count()} over "
                             f"{CYCLES} attach/detach cycles") from None
    print(f"fds: {base_fds} before, {node.fd_count()} after {CYCLES} cycles")
