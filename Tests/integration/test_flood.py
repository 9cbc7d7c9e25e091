"""Broadcast and unknown-unicast frames are flooded to every other port of the bridge domain."""

from weftlib import Capture, ping, wait_ping_ok, wait_until

SUBNET_PREFIX = "10.93.0"
GHOST_IP = f"{SUBNET_PREFIX}.200"      # nobody has this address
GHOST_MAC = "02:de:ad:be:ef:01"        # and nobody has this MAC: frames to it are unknown unicast
ABSENT_IP = f"{SUBNET_PREFIX}.250"     # ARP target nobody answers


def test_flood(node, container):
    node.create_network("net", f"{SUBNET_PREFIX}.0/24")
    a, b, c = container("a"), container("b"), container("c")
    for x in (a, b, c):
        node.attach(x, "net")
    ipb = b.ip()
    wait_ping_ok(a, ipb)

    # 1. broadcast: ARP requests from A for an address nobody has must reach C.
    cap = Capture(c, "eth0", f"arp dst host {ABSENT_IP}", count=2, timeout=15)
    a.run(["arping", "-c", "3", "-w", "4", "-I", "eth0", ABSENT_IP], check=False, timeout=15)
    n, text = cap.result(timeout=20)
    assert n >= 2, f"C saw {n} of 3 broadcast ARP requests for {ABSENT_IP}:\n{text}"
    assert "ff:ff:ff:ff:ff:ff" in text, f"captured ARP frames were not broadcast:\n{text}"

    # 2. unknown unicast: A has a static neighbour entry with a MAC no port has learned.
    a.run(["ip", "neigh", "replace", GHOST_IP, "lladdr", GHOST_MAC, "dev", "eth0",
           "nud", "permanent"])
    cap = Capture(c, "eth0", f"ether dst {GHOST_MAC} and icmp", count=2, timeout=15)
    r = ping(a, GHOST_IP, count=3, interval=0.2, deadline=3)
    n, text = cap.result(timeout=20)
    assert r.transmitted >= 2, f"ping to {GHOST_IP} sent nothing: {r.summary()}"
    assert n >= 2, f"C saw {n} unknown-unicast frames to {GHOST_MAC}:\n{text}"

    # 3. the dataplane says it flooded.
    vec = wait_until(lambda: node.node_vectors("l2-flood"), timeout=5,
                     what="l2-flood vectors > 0 in show runtime")
    print(f"l2-flood vectors: {vec}")
