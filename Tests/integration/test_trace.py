"""Packet trace: trace add af-packet-input N, ping, show trace shows the graph path."""

from weftlib import ping, wait_ping_ok, wait_until


def test_trace(node, container):
    node.create_network("net", "10.98.0.0/24")
    a, b = container("a"), container("b")
    node.attach(a, "net")
    node.attach(b, "net")
    ipb = b.ip()
    wait_ping_ok(a, ipb)

    node.ctl("trace", "clear")
    node.ctl("trace", "add", "af-packet-input", "10")
    r = ping(a, ipb, count=3, interval=0.1)
    assert r.received >= 3, r.summary()

    def traced():
        out = node.ctl("show", "trace").stdout
        return out if ("ethernet-input" in out and "l2-fwd" in out) else None

    try:
        out = wait_until(traced, timeout=5, what="trace with ethernet-input and l2-fwd")
    except AssertionError:
        raise AssertionError("show trace lacks ethernet-input/l2-fwd:\n"
                             + node.ctl("show", "trace").stdout[-3000:]) from None
    assert "af-packet-input" in out, out[-3000:]
    node.ctl("trace", "clear")
    out = node.ctl("show", "trace").stdout
    assert "l2-fwd" not in out, f"trace clear left records:\n{out[-2000:]}"
