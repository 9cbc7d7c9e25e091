"""100 pods ADDed and DELeted concurrently through weft-cni; GC with a partial valid list."""

import random
import time
from concurrent.futures import ThreadPoolExecutor

from cnilib import CNIRuntime, leases, leftovers, nothing_left
from weftlib import ping, wait_ping_ok

PODS = 100


def test_100_concurrent_adds_then_dels(node, container, tmp_path):
    cni = CNIRuntime(node, tmp_path)
    conf = cni.conflist("scale", [cni.weft(network="scale", subnet="10.97.0.0/24")])
    pods = [container(f"p{i}") for i in range(PODS)]

    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=PODS) as pool:
        added = list(pool.map(lambda p: cni.add(conf, p.cid, p.ns.path), pods))
    add_seconds = time.perf_counter() - start
    failed = [r for r in added if not r.ok]
    assert not failed, f"{len(failed)} ADDs failed, first: {failed[0]}"
    addresses = [r.json["ips"][0]["address"].split("/")[0] for r in added]
    assert len(set(addresses)) == PODS, "addresses handed out twice"
    assert [p.ip() for p in pods] == addresses, "each pod has the address its result names"
    assert len(leases(node)) == PODS and len(node.veths_in_node()) == PODS
    lat = sorted(r.seconds for r in added)
    print(f"{PODS} concurrent ADDs in {add_seconds:.2f}s; per ADD median {lat[PODS // 2] * 1000:.0f} ms, "
          f"max {lat[-1] * 1000:.0f} ms")

    # Reachability, spot-checked: the first pod reaches a sample of the others, and back.
    sample = random.Random(7).sample(range(1, PODS), 8)
    wait_ping_ok(pods[0], addresses[sample[0]], timeout=20)
    for i in sample:
        r = ping(pods[0], addresses[i], count=2, interval=0.05)
        assert r.received >= 1, f"{pods[0].name} -> pod {i} {addresses[i]}: {r.summary()}"
        r = ping(pods[i], addresses[0], count=1)
        assert r.received == 1, f"pod {i} -> {addresses[0]}: {r.summary()}"

    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=PODS) as pool:
        deleted = list(pool.map(lambda p: cni.delete(conf, p.cid, p.ns.path), pods))
    del_seconds = time.perf_counter() - start
    failed = [r for r in deleted if not r.ok]
    assert not failed, f"{len(failed)} DELs failed, first: {failed[0]}"
    print(f"{PODS} concurrent DELs in {del_seconds:.2f}s")
    assert leases(node) == [], "the lease store is empty"
    assert leftovers(node, *pods) == nothing_left(node, *pods)


def test_gc_removes_exactly_the_stale_attachments(node, container, tmp_path):
    cni = CNIRuntime(node, tmp_path)
    conf = cni.conflist("gcnet", [cni.weft(network="gcnet", subnet="10.98.0.0/24")])
    pods = [container(f"g{i}") for i in range(6)]
    for p in pods:
        assert cni.add(conf, p.cid, p.ns.path).ok
    # A second interface of a kept pod that the runtime no longer knows about is stale too.
    assert cni.add(conf, pods[0].cid, pods[0].ns.path, ifname="net1").ok
    # An attachment of another network is not this configuration's business.
    node.create_network("other", "10.99.0.0/24")
    bystander = container("bystander")
    node.attach(bystander, "other")

    keep, stale = pods[:3], pods[3:]
    r = cni.gc(conf, [(p.cid, "eth0") for p in keep])
    assert r.ok and r.stdout == "", r
    remaining = sorted((a["containerId"], a["ifName"]) for a in node.attachments())
    assert remaining == sorted([(p.cid, "eth0") for p in keep] + [(bystander.cid, "eth0")]), remaining
    assert sorted(l[2] for l in leases(node)) == sorted([p.cid for p in keep] + [bystander.cid])
    for p in stale:
        assert p.ns.link_names() == {"lo"}, p.ns.link_names()
    assert "net1" not in pods[0].ns.link_names()
    assert len(node.veths_in_node()) == len(keep) + 1
    # The kept pods still talk to each other; a second GC changes nothing.
    wait_ping_ok(keep[0], keep[2].ip())
    assert cni.gc(conf, [(p.cid, "eth0") for p in keep]).ok
    assert len(node.attachments()) == len(keep) + 1
    for p in keep:
        assert cni.delete(conf, p.cid, p.ns.path).ok


def test_gc_with_host_local_releases_its_addresses(node, container, tmp_path):
    cni = CNIRuntime(node, tmp_path)
    ipam = {"type": "host-local", "dataDir": str(tmp_path / "hl"),
            "ranges": [[{"subnet": "10.98.0.0/24", "rangeStart": "10.98.0.100"}]]}
    conf = cni.conflist("gchl", [cni.weft(network="gchl", subnet="10.98.0.0/24", ipam=ipam)], "1.1.0")
    add_conf = dict(conf, cniVersion="1.0.0")  # Debian's host-local speaks up to 1.0.0
    pods = [container(f"h{i}") for i in range(3)]
    for p in pods:
        r = cni.add(add_conf, p.cid, p.ns.path)
        assert r.ok, r
    r = cni.gc(conf, [(pods[0].cid, "eth0")])
    assert r.ok, r
    assert [a["containerId"] for a in node.attachments()] == [pods[0].cid]
    held = sorted(f.name for f in (tmp_path / "hl" / "gchl").iterdir() if f.name[0].isdigit())
    assert held == ["10.98.0.100"], f"host-local still holds {held}"
    assert cni.delete(add_conf, pods[0].cid, pods[0].ns.path).ok
    assert leftovers(node, *pods) == nothing_left(node, *pods)
