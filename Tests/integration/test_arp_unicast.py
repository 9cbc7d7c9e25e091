"""A broadcast ARP request for an address with a known owner (a pod's attachment address, the
network's gateway) reaches that port only (l2-fwd/arp-unicast, docs/architecture.md L2); other
pods never see it. Veth and tap attachments, the gateway, and the owner forgotten on detach."""

from weftlib import Capture, ping, wait_ping_ok

SUBNET = "10.92.0.0/24"
GATEWAY = "10.92.0.1"


def _arp_unicasts(node) -> int:
    return node.error_counters().get("l2-fwd/arp-unicast", 0)


def _requests_seen_by(bystander, target_ip: str, send) -> tuple[int, str]:
    """Runs `send` while the bystander captures ARP requests for target_ip."""
    cap = Capture(bystander, "eth0", f"arp and arp[6:2] == 1 and arp dst host {target_ip}", count=1, timeout=4)
    send()
    return cap.result(timeout=10)


def test_arp_request_reaches_only_the_owner(node, container):
    node.create_network("net", SUBNET)
    a, b, t, c = container("a"), container("b"), container("t"), container("c")
    node.attach(a, "net")
    node.attach(b, "net")
    node.attach(t, "net", "eth0", None, "--attach", "tap")
    node.attach(c, "net")   # the bystander

    for owner in (b, t):
        before = _arp_unicasts(node)
        n, text = _requests_seen_by(c, owner.ip(), lambda: ping(a, owner.ip(), count=2, interval=0.2))
        assert n == 0, f"bystander saw the ARP request for {owner.name}'s address:\n{text}"
        assert _arp_unicasts(node) > before, f"{owner.name}: l2-fwd/arp-unicast did not move"
        assert ping(a, owner.ip(), count=2, interval=0.1).loss_pct == 0.0

    # The gateway (BVI) answers for its address; the request goes to it alone.
    before = _arp_unicasts(node)
    n, text = _requests_seen_by(c, GATEWAY, lambda: ping(a, GATEWAY, count=2, interval=0.2))
    assert n == 0, f"bystander saw the ARP request for the gateway:\n{text}"
    assert _arp_unicasts(node) > before
    assert ping(a, GATEWAY, count=2, interval=0.1).loss_pct == 0.0

    # Detached: b's address has no owner any more, so a request for it floods again.
    b_ip = b.ip()
    node.detach(b.cid)
    a.run(["ip", "neigh", "flush", "dev", "eth0"])
    n, text = _requests_seen_by(c, b_ip, lambda: a.run(["arping", "-c", "2", "-w", "3", "-I", "eth0", b_ip],
                                                        check=False, timeout=10))
    assert n >= 1, "after the detach the request for the old address must flood (and reach the bystander)"
    wait_ping_ok(a, c.ip())
