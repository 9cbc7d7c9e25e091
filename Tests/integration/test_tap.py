"""Tap attachments: weftd creates a TAP device inside the container and serves it itself (no veth)."""

import json

from weftlib import ping, tcp_transfer, wait_ping_ok

PORT = 5411


def _tap_details(c, ifname="eth0") -> dict:
    out = c.run(["ip", "-d", "-j", "link", "show", ifname]).stdout
    return json.loads(out)[0]


def test_tap_to_veth_ping_and_100mb(node, container):
    node.create_network("net", "10.93.0.0/24")
    a, b = container("a"), container("b")
    att = node.attach(a, "net", "eth0", None, "--attach", "tap")
    node.attach(b, "net")
    assert att["attach"] == "tap" and att["driver"] == "tap" and att["queues"] == 1, att
    link = _tap_details(a)
    assert link["linkinfo"]["info_kind"] == "tun", link
    assert link["linkinfo"]["info_data"]["type"] == "tap", link
    assert link["address"] == att["mac"], (link["address"], att["mac"])
    # no veth was made for the tap attachment: only b's host end is in the node namespace
    assert att["hostIfName"] not in node.node.link_names()

    ipa, ipb = a.ip(), b.ip()
    assert ipa and ipb
    wait_ping_ok(a, ipb)
    r = ping(a, ipb, count=20, interval=0.02)
    assert r.loss_pct == 0.0, r.summary()
    r = ping(b, ipa, count=20, interval=0.02, size=1472)
    assert r.loss_pct == 0.0, r.summary()

    # The TAP offers TSO and b's veth keeps it: each side's kernel hands weftd 64 KB
    # super-frames, and each goes out whole (tap-output's writev, af-packet's large-frame send).
    c = tcp_transfer(a, b, ipb, PORT, 100)
    print(f"TCP tap->veth: {c['bytes'] / c['seconds'] / 1e6:.1f} MB/s")
    c = tcp_transfer(b, a, ipa, PORT + 1, 100)
    print(f"TCP veth->tap: {c['bytes'] / c['seconds'] / 1e6:.1f} MB/s")
    counters = node.error_counters()
    assert counters.get("tap-input/gso-frames", 0) > 0 and counters.get("af-packet-input/gso-frames", 0) > 0, counters
    assert counters.get("af-packet-output/large-sent", 0) > 0, counters
    assert counters.get("gso-segment/segmented", 0) == 0, counters
    assert not {k: v for k, v in counters.items() if v and (k.startswith("gso-segment/") and k != "gso-segment/segmented"
                                                             or k == "tap-input/gso-bad-header")}, counters

    tap_if = next(i for i in node.interfaces() if i["name"] == att["hostIfName"])
    assert tap_if["driver"] == "tap" and tap_if["queues"] == 1 and "tso4" in tap_if["mode"], tap_if
    assert tap_if["rxBytes"] > 100 * 1024 * 1024 and tap_if["txBytes"] > 100 * 1024 * 1024, tap_if
    shown = node.ctl("show", "interfaces").stdout
    assert att["hostIfName"] in shown and "tap" in shown, shown

    node.detach(a.cid)
    assert "eth0" not in a.ns.link_names(), "detach left the TAP in the container"
    assert all(i["name"] != att["hostIfName"] for i in node.interfaces())


def test_tap_multiqueue_between_taps(node, container):
    node.create_network("net", "10.94.0.0/24")
    a, b = container("a"), container("b")
    node.attach(a, "net", "eth0", None, "--attach", "tap", "--queues", "4")
    att_b = node.attach(b, "net", "eth0", None, "--attach", "tap", "--queues", "2")
    info = _tap_details(a)["linkinfo"]["info_data"]
    assert info["multi_queue"] and info["vnet_hdr"] and info["persist"] and info["numqueues"] == 4, info
    assert att_b["queues"] == 2
    wait_ping_ok(a, b.ip())
    # TAP to TAP: super-frames cross whole (nothing segmented), both directions.
    before = node.error_counters()
    c = tcp_transfer(a, b, b.ip(), PORT + 2, 100)
    assert c["bytes"] == 100 * 1024 * 1024
    print(f"TCP tap->tap: {c['bytes'] / c['seconds'] / 1e6:.1f} MB/s")
    c = tcp_transfer(b, a, a.ip(), PORT + 3, 100)
    print(f"TCP tap->tap back: {c['bytes'] / c['seconds'] / 1e6:.1f} MB/s")
    after = node.error_counters()
    assert after.get("tap-input/gso-frames", 0) - before.get("tap-input/gso-frames", 0) > 100, after
    assert after.get("gso-segment/segmented", 0) == before.get("gso-segment/segmented", 0), after


def test_tap_super_frames_routed_to_another_network(node, container):
    """A TAP pod's super-frames to a pod of another network are routed whole: the IPv4 path
    reads only headers and the other TAP takes them as they are (nothing segmented)."""
    node.create_network("red", "10.96.0.0/24")
    node.create_network("blue", "10.98.0.0/24")
    a, b = container("a"), container("b")
    node.attach(a, "red", "eth0", None, "--attach", "tap")
    node.attach(b, "blue", "eth0", None, "--attach", "tap")
    wait_ping_ok(a, b.ip())
    c = tcp_transfer(a, b, b.ip(), PORT + 4, 50)
    print(f"TCP tap->gateway->tap: {c['bytes'] / c['seconds'] / 1e6:.1f} MB/s")
    c = tcp_transfer(b, a, a.ip(), PORT + 5, 50)
    counters = node.error_counters()
    assert counters.get("tap-input/gso-frames", 0) > 100, counters
    assert counters.get("gso-segment/segmented", 0) == 0, counters


def test_tap_survives_kill9(node, container):
    node.create_network("net", "10.95.0.0/24")
    a, b = container("a"), container("b")
    node.attach(a, "net", "eth0", None, "--attach", "tap")
    node.attach(b, "net")
    ipb = b.ip()
    wait_ping_ok(a, ipb)
    ifindex = _tap_details(a)["ifindex"]

    node.kill9()
    # the device is persistent: the container keeps its interface and address
    assert _tap_details(a)["ifindex"] == ifindex
    node.start()
    assert _tap_details(a)["ifindex"] == ifindex, "the TAP was recreated instead of taken over"
    wait_ping_ok(a, ipb, timeout=15)
    r = ping(a, ipb, count=10, interval=0.05)
    assert r.loss_pct == 0.0, r.summary()


def test_tap_bad_input(node, container):
    node.create_network("net", "10.97.0.0/24")
    a, b = container("a"), container("b")
    base = {"containerId": a.cid, "netns": a.ns.path, "network": "net"}

    # name collision: the container already has an eth0 of its own
    a.run(["ip", "link", "add", "eth0", "type", "bridge"])
    r = node.http("POST", "/v1/attachments", {**base, "attach": "tap"})
    assert r.status == 409, r
    assert "eth0" in r.json()["error"]["message"] and r.json()["error"]["code"] == "ifname_exists", r
    assert node.attachments() == [], "a failed tap attach left its record behind"
    assert _tap_details(a)["linkinfo"]["info_kind"] == "bridge", "the container's own eth0 was touched"

    for body, field in [({**base, "attach": "tun"}, "attach"),
                        ({**base, "attach": "tap", "queues": 9}, "queues"),
                        ({**base, "queues": 2}, "queues"),
                        ({**base, "attach": "tap", "driver": "af-xdp"}, "driver"),
                        ({**base, "driver": "dpdk"}, "driver")]:
        r = node.http("POST", "/v1/attachments", body)
        assert r.status == 400, (body, r)
        assert r.json()["error"]["field"] == field, (body, r)

    # the address the failed attach leased is free again, and forwarding works
    node.attach(a, "net", "eth1", None, "--attach", "tap")
    node.attach(b, "net")
    assert a.ip("eth1") == "10.97.0.2", a.ip("eth1")
    wait_ping_ok(b, a.ip("eth1"))
