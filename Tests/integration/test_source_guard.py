"""Anti-spoofing: an attached container sends only from its own MAC and address (on by default)."""

from weftlib import ping, wait_ping_ok



def test_spoofed_sources_are_dropped_and_counted(node, container):
    node.create_network("net", "10.98.0.0/24")
    a, b, c = container("a"), container("b"), container("c")
    att = node.attach(a, "net")
    node.attach(b, "net", "eth0", None, "--attach", "tap")
    node.attach(c, "net", "eth0", None, "--no-source-guard")
    assert att["sourceGuard"] is True
    ipb = b.ip()
    wait_ping_ok(a, ipb)

    # a claims another address of the subnet: its pings never reach b
    before = node.error_counters()
    a.run(["ip", "addr", "add", "10.98.0.99/24", "dev", "eth0"])
    r = a.run(["ping", "-n", "-c", "5", "-i", "0.05", "-W", "1", "-I", "10.98.0.99", ipb], check=False)
    assert " 0 received" in r.stdout, r.stdout
    after = node.error_counters()
    spoofed = after.get("l2-input/spoofed-ip4", 0) + after.get("l2-input/spoofed-arp", 0) \
        - before.get("l2-input/spoofed-ip4", 0) - before.get("l2-input/spoofed-arp", 0)
    assert spoofed >= 5, after
    a.run(["ip", "addr", "del", "10.98.0.99/24", "dev", "eth0"])

    # the tap-attached b takes a's MAC: weftd does not follow it, nothing from b gets through
    # (a MAC nobody has would be followed: test_cni_delegation's tuning "mac" test)
    mac_b = b.mac()
    b.run(["ip", "link", "set", "eth0", "address", a.mac()])
    r = ping(b, a.ip(), count=5, interval=0.1, deadline=3)
    assert r.received == 0, r.summary()
    assert node.error_counters().get("l2-input/spoofed-mac", 0) >= 3
    assert node.attachment(b.cid)["mac"] == mac_b
    b.run(["ip", "link", "set", "eth0", "address", mac_b])

    # c was attached without the guard: another address of its own choosing works
    c.run(["ip", "addr", "add", "10.98.0.77/24", "dev", "eth0"])
    r = c.run(["ping", "-n", "-c", "3", "-i", "0.1", "-W", "1", "-I", "10.98.0.77", a.ip()], check=False)
    assert " 3 received" in r.stdout, r.stdout

    # and the honest traffic of a and b was never touched
    wait_ping_ok(a, ipb)
    r = ping(b, a.ip(), count=10, interval=0.02)
    assert r.loss_pct == 0.0, r.summary()
