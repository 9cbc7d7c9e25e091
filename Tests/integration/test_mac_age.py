"""Learned MACs age out of the bridge domain's table after --mac-age seconds of silence."""

import subprocess
import time

from weftlib import wait_ping_ok, wait_until

BD = 42


def test_mac_age(node, container):
    node.create_network("net", "10.94.0.0/24", "--bridge-domain", str(BD), "--mac-age", "2")
    a, b = container("a"), container("b")
    node.attach(a, "net")
    node.attach(b, "net")
    mac_a, mac_b, ipb = a.mac(), b.mac(), b.ip()
    assert mac_a and mac_b and ipb
    wait_ping_ok(a, ipb)

    # Keep traffic flowing while we look: both MACs must be learned.
    pinger = a.popen(["ping", "-n", "-q", "-i", "0.2", "-w", "30", ipb],
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: {mac_a, mac_b} <= node.learned_macs(BD), timeout=10,
                   what=f"{mac_a} and {mac_b} in bridge-domain {BD}")
        bd = node.bridge_domain(BD)
        assert int(bd.get("macAgeSeconds", 2)) == 2, f"bridge domain: {bd}"
    finally:
        pinger.kill()
        pinger.wait()
    idle_from = time.monotonic()

    def gone():
        return not ({mac_a, mac_b} & node.learned_macs(BD))

    try:
        wait_until(gone, timeout=15, interval=0.25, what="learned MACs to age out")
    except AssertionError:
        raise AssertionError(f"after 15 s idle the MAC table of bd {BD} still has "
                             f"{node.learned_macs(BD)} (mac-age 2)") from None
    idle = time.monotonic() - idle_from
    print(f"MACs aged out after {idle:.1f} s idle (mac-age 2 s)")
    assert idle >= 0.5, f"MACs vanished after only {idle:.1f} s: aging ignores --mac-age 2"
