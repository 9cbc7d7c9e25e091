"""kill -9 weftd and restart it on the same state: attachments, interfaces and forwarding return."""

from weftlib import ping, wait_ping_ok


def _key(att):
    return (att["containerId"], att["ifName"], att["network"], att["hostIfName"], att["mac"],
            att["address"])


def test_restart_after_kill9(node, container):
    node.create_network("net", "10.96.0.0/24", "--mac-age", "120")
    a, b = container("a"), container("b")
    node.attach(a, "net")
    node.attach(b, "net")
    ipa, ipb = a.ip(), b.ip()
    wait_ping_ok(a, ipb)

    before_atts = sorted(_key(x) for x in node.attachments())
    before_ifs = {i["name"] for i in node.interfaces()}
    hosts = {x[3] for x in before_atts}
    assert len(before_atts) == 2 and hosts <= before_ifs, (before_atts, before_ifs)
    old_pid = node.pid

    node.kill9()
    node.start()  # same --socket and --state; fails if not ready within 10 s
    assert node.pid != old_pid

    after_atts = sorted(_key(x) for x in node.attachments())
    assert after_atts == before_atts, f"attachments changed across restart:\n{before_atts}\n{after_atts}"
    after_ifs = {i["name"] for i in node.interfaces()}
    assert hosts <= after_ifs, f"show interfaces after restart: {after_ifs}, expected {hosts}"
    nets = node.http("GET", "/v1/networks")
    assert nets.status == 200 and "10.96.0.0/24" in nets.body.decode(), nets
    # nothing duplicated in the kernel either
    assert node.veths_in_node() == hosts, f"node veths {node.veths_in_node()} != {hosts}"
    assert a.ip() == ipa and b.ip() == ipb

    wait_ping_ok(a, ipb, timeout=15)
    r = ping(a, ipb, count=10, interval=0.05)
    assert r.loss_pct == 0.0, f"after restart: {r.summary()}"
    r = ping(b, ipa, count=10, interval=0.05)
    assert r.loss_pct == 0.0, f"after restart (b->a): {r.summary()}"
