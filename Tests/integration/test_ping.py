"""Two containers on one network ping each other at several sizes; idle RTT is sub-millisecond."""

from weftlib import ping, wait_ping_ok

SUBNET = "10.91.0.0/24"


def _pair(node, container):
    node.create_network("net", SUBNET)
    a, b = container("a"), container("b")
    node.attach(a, "net")
    node.attach(b, "net")
    ipa, ipb = a.ip(), b.ip()
    assert ipa and ipb, f"containers got no IPv4 address: a={ipa} b={ipb}"
    assert ipa != ipb
    return a, b, ipa, ipb


def test_ping_sizes(node, container):
    a, b, ipa, ipb = _pair(node, container)
    wait_ping_ok(a, ipb)  # resolves ARP and waits for the datapath, bounded by a deadline
    for size in (56, 1400, 1472):
        for src, dst in ((a, ipb), (b, ipa)):
            r = ping(src, dst, count=20, interval=0.05, size=size)
            assert r.transmitted == 20 and r.loss_pct == 0.0, (
                f"ping -s {size} {src.name} -> {dst}: {r.loss_pct:.0f}% loss ({r.summary()})")


def test_ping_idle_rtt(node, container):
    a, b, ipa, ipb = _pair(node, container)
    wait_ping_ok(a, ipb)
    r = ping(a, ipb, count=21, interval=0.2, size=56)
    assert len(r.times_ms) >= 20, f"too few replies: {r.summary()}"
    med = r.median_ms
    print(f"idle RTT median {med:.3f} ms over {len(r.times_ms)} replies "
          f"(min {min(r.times_ms):.3f}, max {max(r.times_ms):.3f})")
    assert med < 1.0, f"median idle RTT {med:.3f} ms >= 1.0 ms (times: {r.times_ms})"
