"""100 MiB of random bytes over TCP from container A to B through weftd; sha256 must match."""


from weftlib import tcp_transfer, wait_ping_ok

MB = 100
PORT = 5399


def test_tcp_100mb(node, container):
    node.create_network("net", "10.92.0.0/24")
    a, b = container("a"), container("b")
    node.attach(a, "net")
    node.attach(b, "net")
    ipb = b.ip()
    assert ipb, "container b has no address"
    wait_ping_ok(a, ipb)

    c = tcp_transfer(a, b, ipb, PORT, MB)
    print(f"TCP A->B: {c['bytes']} bytes in {c['seconds']:.2f} s = {c['bytes'] / c['seconds'] / 1e6:.1f} MB/s")
