"""Path MTU with super-frames (issue 19): a pod's 64 KB TCP super-frames towards an uplink whose
MTU (1280) is below the segments' size get ICMP fragmentation-needed naming 1280 (DF is set),
the pod's kernel lowers its path MTU, and the transfer completes with every byte checked;
routed (the outside routes the pods' subnet back) and masqueraded (the ICMP error about a
translated packet must reach the pod, calico#7120).

Rig: red pods 10.62.0.x --[weftd: bvi 10.62.0.1 | uplink end, MTU 1280, 192.0.2.2/24]
        <--veth--> outside: eth0 192.0.2.1/24, MTU 1500 (so its SYN-ACK offers MSS 1460)
"""

from __future__ import annotations

import pytest

from weftlib import RUN_SUFFIX, outside_on_uplink, tcp_transfer, wait_ping_ok

RED = "10.62.0.0/24"
UPLINK_ADDR, OUTSIDE_ADDR = "192.0.2.2", "192.0.2.1"


@pytest.fixture
def narrow_outside(node, container):
    with outside_on_uplink(node, container("out"), UPLINK_ADDR, OUTSIDE_ADDR, f"p{RUN_SUFFIX}"[:15], uplink_mtu=1280) as out:
        yield out


@pytest.mark.parametrize("masquerade", [False, True], ids=["routed", "masqueraded"])
def test_super_frames_over_a_smaller_mtu_get_fragmentation_needed_and_tcp_adapts(node, container, narrow_outside, masquerade):
    node.create_network("red", RED, *(["--masquerade"] if masquerade else []))
    if not masquerade:
        narrow_outside.run(["ip", "route", "add", RED, "via", UPLINK_ADDR])
    r = container("r")
    node.attach(r, "red")
    wait_ping_ok(r, OUTSIDE_ADDR)
    assert "mtu" not in r.run(["ip", "route", "get", OUTSIDE_ADDR]).stdout
    before = node.error_counters()
    c = tcp_transfer(r, narrow_outside, OUTSIDE_ADDR, 5450, 64, timeout=120)
    moved = node.counters_moved(before)
    print(f"{'masqueraded' if masquerade else 'routed'}: 64 MiB in {c['seconds']:.2f} s; counters {moved}")
    assert moved.get("ip4-rewrite/fragmentation-needed", 0) >= 1, moved
    assert moved.get("ip4-icmp-error/fragmentation-needed-sent", 0) >= 1, moved
    # The pod's kernel took the error: its route cache holds the path MTU weftd named.
    route = r.run(["ip", "route", "get", OUTSIDE_ADDR]).stdout
    assert "mtu 1280" in route, route
    # After the first errors, super-frames of 1240-byte segments fit and go whole.
    assert moved.get("af-packet-output/large-sent", 0) > 100, moved
