"""Bandwidth limits (the CNI bandwidth capability) enforced by weftd's dataplane policers.

Pods are networked by weft-cni exactly as a runtime does it, with runtimeConfig.bandwidth;
TCP transfers between them measure what the policers let through: egress (what a pod sends,
l2-input) and ingress (what it receives, l2-output). The API refuses incomplete limits."""

from cnilib import CNIRuntime, leftovers, nothing_left
from weftlib import tcp_transfer, wait_ping_ok

SUBNET = "10.94.0.0/24"
RATE = 20_000_000            # bits/s: 20 Mbit/s
# bits: 1 MB, 400 ms at the rate. A policer drops rather than queues: with 2 Mbit TCP reached
# only ~10 Mbit/s here, with 8 Mbit ~20 (docs/bandwidth.md).
BURST = 8_000_000
MIB = 12                     # per transfer: ~5 s at 20 Mbit/s, so the first burst is a small part



def _mbits(report: dict) -> float:
    return report["bytes"] * 8 / report["seconds"] / 1e6


def _add(cni, conf, plugin, pod, bandwidth=None):
    extra = {"runtimeConfig": {"bandwidth": bandwidth}} if bandwidth is not None else {}
    r = cni.exec("weft", "ADD", cni.plugin_conf(conf, plugin, **extra),
                 container_id=pod.cid, netns=pod.ns.path, ifname="eth0")
    assert r.ok, r
    return r.json


def test_cni_bandwidth_limits_are_enforced(node, container, tmp_path):
    cni = CNIRuntime(node, tmp_path)
    plugin = cni.weft(network="pods", subnet=SUBNET, capabilities={"bandwidth": True})
    conf = cni.conflist("weftbw", [plugin])
    limited, free, peer = container("lim"), container("free"), container("peer")
    # A runtime may send all four fields with the unused direction 0 (not set, as in the reference plugin).
    limits = {"ingressRate": 0, "ingressBurst": 0, "egressRate": RATE, "egressBurst": BURST}
    added = _add(cni, conf, plugin, limited, limits)
    _add(cni, conf, plugin, free)
    _add(cni, conf, plugin, peer)

    shown = node.attachment(limited.cid)
    assert shown["bandwidth"] == {"egressRate": RATE, "egressBurst": BURST}, shown
    assert "bandwidth" not in node.attachment(free.cid)
    table = node.ctl("show", "attachments").stdout
    assert "out 20Mbit/s burst 8Mbit" in table and "unlimited" in table, table
    # CHECK compares weftd's limits with the runtime's.
    check = cni.exec("weft", "CHECK", cni.plugin_conf(conf, plugin, prev_result=added,
                                                      runtimeConfig={"bandwidth": limits}),
                     container_id=limited.cid, netns=limited.ns.path, ifname="eth0")
    assert check.ok, check
    other = dict(limits, egressRate=RATE * 2)
    check = cni.exec("weft", "CHECK", cni.plugin_conf(conf, plugin, prev_result=added,
                                                      runtimeConfig={"bandwidth": other}),
                     container_id=limited.cid, netns=limited.ns.path, ifname="eth0")
    assert not check.ok and "bandwidth" in check.error()["msg"], check

    for a, b in ((limited, free), (free, peer), (free, limited)):
        wait_ping_ok(a, b.ip())

    # Egress: what the limited pod sends.
    before = node.error_counters()
    out = _mbits(tcp_transfer(limited, free, free.ip(), 5201, MIB))
    moved = node.error_counters().get("l2-input/policed", 0) - before.get("l2-input/policed", 0)
    print(f"limited pod -> free pod: {out:.1f} Mbit/s (limit 20), l2-input/policed +{moved}")
    assert 0.5 * RATE / 1e6 <= out <= 1.3 * RATE / 1e6, f"{out:.1f} Mbit/s with an egress limit of 20 Mbit/s"
    assert moved > 0

    # Unlimited pods are not held back (and the limited pod's reverse direction is not limited).
    fast = _mbits(tcp_transfer(free, peer, peer.ip(), 5202, 32))
    back = _mbits(tcp_transfer(free, limited, limited.ip(), 5203, 32))
    print(f"free -> peer: {fast:.1f} Mbit/s; free -> limited pod (no ingress limit): {back:.1f} Mbit/s")
    assert fast > 4 * RATE / 1e6 and back > 4 * RATE / 1e6, (fast, back)

    # Ingress: a pod whose limit is on what it receives.
    slow = container("slow")
    _add(cni, conf, plugin, slow, {"ingressRate": RATE, "ingressBurst": BURST})
    wait_ping_ok(free, slow.ip())
    before = node.error_counters()
    into = _mbits(tcp_transfer(free, slow, slow.ip(), 5204, MIB))
    moved = node.error_counters().get("l2-output/policed", 0) - before.get("l2-output/policed", 0)
    print(f"free pod -> ingress-limited pod: {into:.1f} Mbit/s (limit 20), l2-output/policed +{moved}")
    assert 0.5 * RATE / 1e6 <= into <= 1.3 * RATE / 1e6, f"{into:.1f} Mbit/s with an ingress limit of 20 Mbit/s"
    assert moved > 0

    # DEL removes everything, limits included.
    pods = (limited, free, peer, slow)
    for pod in pods:
        d = cni.exec("weft", "DEL", cni.plugin_conf(conf, plugin), container_id=pod.cid, netns=pod.ns.path, ifname="eth0")
        assert d.ok, d
    assert leftovers(node, *pods) == nothing_left(node, *pods)

    # A rate without its burst fails ADD with code 7 and a message naming the field; the DEL a
    # runtime sends after a failed ADD (same configuration) still succeeds.
    bad = cni.plugin_conf(conf, plugin, runtimeConfig={"bandwidth": {"egressRate": RATE}})
    r = cni.exec("weft", "ADD", bad, container_id=limited.cid, netns=limited.ns.path, ifname="eth0")
    assert not r.ok and r.error()["code"] == 7 and "egressBurst" in r.error()["msg"], r
    d = cni.exec("weft", "DEL", bad, container_id=limited.cid, netns=limited.ns.path, ifname="eth0")
    assert d.ok, d
    assert leftovers(node, *pods) == nothing_left(node, *pods)


def test_limits_survive_a_restart(node, container):
    node.create_network("blue", "10.95.0.0/24")
    a, b = container("a"), container("b")
    node.ctl("attach", "--container", a.cid, "--netns", a.ns.path, "--network", "blue",
             "--egress-rate", str(RATE), "--egress-burst", str(BURST))
    node.attach(b, "blue")
    node.kill9()
    node.start()
    assert node.attachment(a.cid)["bandwidth"] == {"egressRate": RATE, "egressBurst": BURST}
    wait_ping_ok(a, b.ip())
    before = node.error_counters().get("l2-input/policed", 0)
    out = _mbits(tcp_transfer(a, b, b.ip(), 5205, MIB))
    print(f"after kill -9 and restart: {out:.1f} Mbit/s (limit 20)")
    assert 0.5 * RATE / 1e6 <= out <= 1.3 * RATE / 1e6
    assert node.error_counters().get("l2-input/policed", 0) > before


def test_api_refuses_incomplete_or_non_positive_limits(node, container):
    node.create_network("blue", "10.96.0.0/24")
    c = container("c")
    base = {"containerId": c.cid, "netns": c.ns.path, "network": "blue"}
    cases = [
        ({"egressRate": RATE}, "bandwidth.egressBurst"),
        ({"ingressBurst": BURST}, "bandwidth.ingressRate"),
        ({"ingressRate": 0, "ingressBurst": BURST}, "bandwidth.ingressRate"),
        ({"egressRate": RATE, "egressBurst": -1}, "bandwidth.egressBurst"),
    ]
    for bandwidth, field in cases:
        r = node.http("POST", "/v1/attachments", dict(base, bandwidth=bandwidth))
        assert r.status == 400, (bandwidth, r)
        err = r.json()["error"]
        assert err["code"] == "invalid_field" and err["field"] == field and err["message"], (bandwidth, err)
    r = node.http("POST", "/v1/attachments", dict(base, bandwidth={"egressRate": "fast", "egressBurst": 1}))
    assert r.status == 400, r
    # weftctl passes the options through and shows weftd's message.
    p = node.ctl("attach", "--container", c.cid, "--netns", c.ns.path, "--network", "blue",
                 "--egress-rate", str(RATE), check=False)
    assert p.returncode != 0 and "egressBurst" in p.stderr, p
    assert node.attachments() == []


def test_tap_attachment_is_limited(node, container):
    """A TAP attachment has no host veth a qdisc could sit on: the policer works the same."""
    node.create_network("blue", "10.98.0.0/24")
    a, b = container("a"), container("b")
    node.ctl("attach", "--container", a.cid, "--netns", a.ns.path, "--network", "blue", "--attach", "tap",
             "--ingress-rate", str(RATE), "--ingress-burst", str(BURST))
    node.attach(b, "blue")
    wait_ping_ok(b, a.ip())
    into = _mbits(tcp_transfer(b, a, a.ip(), 5206, MIB))
    print(f"into a tap pod with an ingress limit: {into:.1f} Mbit/s (limit 20)")
    assert 0.5 * RATE / 1e6 <= into <= 1.3 * RATE / 1e6


def test_reference_bandwidth_plugin_chained_after_weft_does_not_do_its_job(node, container, tmp_path):
    """What docs/bandwidth.md warns about: Debian's reference bandwidth plugin, chained after weft
    (weft without the capability), succeeds and installs its tbf and ifb, but weftd's AF_PACKET
    taps take the pod's frames before tc ingress, so traffic from the pod is not limited; traffic
    into the pod is, but only the TCP super-frames weftd hands the kernel through its large-frame
    socket (which goes through the qdisc), not MTU-sized frames from its bypass ring."""
    cni = CNIRuntime(node, tmp_path)
    weft = cni.weft(network="chain", subnet="10.99.0.0/24")
    ref = {"type": "bandwidth", "capabilities": {"bandwidth": True}}
    conf = cni.conflist("refbw", [weft, ref], "1.0.0")   # Debian's plugins speak up to 1.0.0
    limits = {"bandwidth": {"ingressRate": RATE, "ingressBurst": BURST, "egressRate": RATE, "egressBurst": BURST}}
    pod, other = container("pod"), container("other")
    results = {}
    for c in (pod, other):
        prev = None
        for plugin in conf["plugins"]:
            extra = {"runtimeConfig": limits} if c is pod and plugin is ref else {}
            r = cni.exec(plugin["type"], "ADD", cni.plugin_conf(conf, plugin, prev, **extra),
                         container_id=c.cid, netns=c.ns.path, ifname="eth0")
            assert r.ok, r
            prev = r.json
        results[c.cid] = prev
    host = results[pod.cid]["interfaces"][0]["name"]
    qdiscs = node.node.run(["tc", "qdisc", "show"]).stdout
    # It did install them: tbf on the host veth (to the pod), ingress + an ifb with a tbf (from the pod).
    assert f"qdisc tbf 1: dev {host} root" in qdiscs and "qdisc ingress" in qdiscs, qdiscs
    assert " ifb " in node.node.run(["ip", "-d", "link", "show", "type", "ifb"]).stdout + " ", qdiscs
    assert "bandwidth" not in node.attachment(pod.cid)
    wait_ping_ok(pod, other.ip())
    out = _mbits(tcp_transfer(pod, other, other.ip(), 5207, 32))
    into = _mbits(tcp_transfer(other, pod, pod.ip(), 5208, 32))
    print(f"reference bandwidth plugin on {host}: from the pod {out:.1f}, to the pod {into:.1f} Mbit/s (its limit: 20)")
    assert out > 4 * RATE / 1e6, (out, into)        # the ifb shapes a copy nobody forwards
    assert into < 4 * RATE / 1e6, (out, into)       # bulk TCP into the pod is super-frames: the tbf sees them
    for c in (pod, other):
        for plugin in reversed(conf["plugins"]):
            extra = {"runtimeConfig": limits} if c is pod and plugin is ref else {}
            d = cni.exec(plugin["type"], "DEL", cni.plugin_conf(conf, plugin, results[c.cid], **extra),
                         container_id=c.cid, netns=c.ns.path, ifname="eth0")
            assert d.ok, d
