"""A dense node, short version (issue 20; the 1,000-pod run belongs to `make soak`): 300 pods
attached to one /22 network with `weftctl attach`, past the 256 members a bridge domain used to
hold; the last pod pings its gateway and the first pod; every pod detached leaves no veth,
lease or attachment behind."""

from __future__ import annotations

import time

from cnilib import leases
from weftlib import ping, wait_ping_ok

PODS = 300


def test_three_hundred_pods_in_one_network(node, container):
    node.create_network("dense", "10.100.0.0/22")
    pods = [container(f"d{i}") for i in range(PODS)]
    times = []
    for p in pods:
        t0 = time.perf_counter()
        node.attach(p, "dense")
        times.append(time.perf_counter() - t0)
    first, last = pods[0], pods[-1]
    gw = "10.100.0.1"   # the network's gateway (its BVI) is the first address
    wait_ping_ok(last, gw)
    assert ping(last, first.ip(), count=3, interval=0.1).loss_pct == 0.0
    assert ping(pods[PODS // 2], last.ip(), count=3, interval=0.1).loss_pct == 0.0
    members = node.bridge_domain(1)["interfaces"]
    assert len(members) >= PODS, f"bridge domain 1 holds {len(members)} members"
    head, tail = sorted(times[:50]), sorted(times[-50:])
    print(f"attach p50: pods 1-50 {head[25] * 1000:.0f} ms, pods {PODS - 49}-{PODS} {tail[25] * 1000:.0f} ms")

    for p in pods:
        node.detach(p.cid)
    assert node.attachments() == []
    assert leases(node) == []
    assert node.veths_in_node() == set()
