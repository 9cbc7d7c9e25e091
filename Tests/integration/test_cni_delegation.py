"""weft-cni delegating IPAM to the reference host-local plugin, and as the first plugin of a
chain with the reference tuning plugin (Debian containernetworking-plugins, /usr/lib/cni).
Debian's plugins speak CNI up to 1.0.0, so these conflists use 1.0.0."""

import json
import os

import pytest

from cnilib import REFERENCE_PLUGINS, CNIRuntime, leftovers, nothing_left
from weftlib import ping, wait_ping_ok

SUBNET = "10.95.0.0/24"

pytestmark = pytest.mark.skipif(not os.access(REFERENCE_PLUGINS / "host-local", os.X_OK),
                                reason="reference CNI plugins missing: run scripts/install-deps.sh")


@pytest.fixture
def cni(node, tmp_path):
    return CNIRuntime(node, tmp_path)


def _host_local(tmp_path, range_start="10.95.0.50", subnet=SUBNET, routes=True):
    ipam = {"type": "host-local", "dataDir": str(tmp_path / "host-local"),
            "ranges": [[{"subnet": subnet, "rangeStart": range_start, "gateway": "10.95.0.1"}]]}
    if routes:
        ipam["routes"] = [{"dst": "0.0.0.0/0"}]
    return ipam


def _reservations(tmp_path, network="hl"):
    d = tmp_path / "host-local" / network
    if not d.exists():
        return []
    return sorted(f.name for f in d.iterdir() if f.name[0].isdigit())


def test_delegated_ipam_host_local(node, container, cni, tmp_path):
    conf = cni.conflist("hl", [cni.weft(network="hl", subnet=SUBNET, ipam=_host_local(tmp_path))], "1.0.0")
    a, b = container("a"), container("b")
    ra, rb = cni.add(conf, a.cid, a.ns.path), cni.add(conf, b.cid, b.ns.path)
    assert ra.ok, ra
    assert rb.ok, rb
    # host-local chose the addresses (from its range), weftd plugged them in as given.
    assert ra.json["ips"] == [{"address": "10.95.0.50/24", "gateway": "10.95.0.1", "interface": 1}], ra.json
    assert rb.json["ips"][0]["address"] == "10.95.0.51/24"
    assert ra.json["routes"] == [{"dst": "0.0.0.0/0"}], "routes as host-local returned them"
    assert (a.ip(), b.ip()) == ("10.95.0.50", "10.95.0.51")
    assert "default via 10.95.0.1 dev eth0" in a.run(["ip", "route"]).stdout
    assert _reservations(tmp_path) == ["10.95.0.50", "10.95.0.51"]
    att = node.attachment(a.cid)
    assert att["ipam"] == "external" and att["address"] == "10.95.0.50/24", att
    assert node.ctl_json("network", "list")  # the network exists
    from cnilib import leases
    assert leases(node) == [], "weftd leases nothing for host-local's addresses"

    wait_ping_ok(a, b.ip())
    assert ping(b, a.ip(), count=3, interval=0.05).loss_pct == 0

    assert cni.check(conf, a.cid, a.ns.path).ok  # weft's CHECK, which also CHECKs host-local

    # A weftd-IPAM pod on the same network gets an address host-local does not hold.
    mixed = cni.conflist("mixed", [cni.weft(network="hl")], "1.0.0")
    c = container("c")
    rc = cni.add(mixed, c.cid, c.ns.path)
    assert rc.ok, rc
    assert rc.json["ips"][0]["address"] == "10.95.0.2/24"

    for pod in (a, b):
        assert cni.delete(conf, pod.cid, pod.ns.path).ok
        assert cni.delete(conf, pod.cid, pod.ns.path).ok  # idempotent, host-local too
    assert cni.delete(mixed, c.cid, c.ns.path).ok
    assert _reservations(tmp_path) == [], "DEL released host-local's reservations"
    assert leftovers(node, a, b, c) == nothing_left(node, a, b, c)


def test_delegated_address_weftd_refuses_is_released(node, container, cni, tmp_path):
    """host-local hands out an address outside the Weft network: ADD fails with code 7,
    and weft-cni DELs host-local so nothing stays reserved."""
    node.create_network("hl", SUBNET)
    ipam = _host_local(tmp_path, range_start="10.96.0.10", subnet="10.96.0.0/24")
    ipam["ranges"][0][0]["gateway"] = "10.96.0.1"
    conf = cni.conflist("hl", [cni.weft(network="hl", ipam=ipam)], "1.0.0")
    a = container("a")
    err = cni.add(conf, a.cid, a.ns.path).error()
    assert err["code"] == 7 and "10.96.0.10" in err["msg"] and SUBNET in err["msg"], err
    assert _reservations(tmp_path) == []
    assert leftovers(node, a) == nothing_left(node, a)
    # An IPAM plugin that is not installed.
    conf = cni.conflist("hl", [cni.weft(network="hl", ipam={"type": "no-such-ipam"})], "1.0.0")
    err = cni.add(conf, a.cid, a.ns.path).error()
    assert err["code"] == 7 and "no-such-ipam" in err["msg"] and "CNI_PATH" in err["msg"], err
    # host-local cannot speak 1.1.0 (Debian's plugins stop at 1.0.0): its error comes through.
    conf = cni.conflist("hl", [cni.weft(network="hl", ipam=_host_local(tmp_path))], "1.1.0")
    err = cni.add(conf, a.cid, a.ns.path).error()
    assert err["code"] == 1 and "host-local" in err["msg"], err
    assert leftovers(node, a) == nothing_left(node, a)


def test_chain_weft_then_tuning(node, container, cni, tmp_path):
    tuning = {"type": "tuning", "dataDir": str(tmp_path / "tuning"), "promisc": True,
              "sysctl": {"net.ipv4.conf.eth0.arp_notify": "1"}}
    conf = cni.conflist("chain", [cni.weft(network="chain", subnet=SUBNET), tuning], "1.0.0")
    a, b = container("a"), container("b")
    r = cni.add(conf, a.cid, a.ns.path)
    assert r.ok, r
    assert cni.add(conf, b.cid, b.ns.path).ok
    # tuning found weft's container interface in prevResult and configured it...
    assert a.run(["sysctl", "-n", "net.ipv4.conf.eth0.arp_notify"]).stdout.strip() == "1"
    assert "PROMISC" in a.ns.link("eth0")["flags"], a.ns.link("eth0")
    # ...and passed weft's result on as the chain's result.
    res = r.json
    assert res["interfaces"][1]["sandbox"] == a.ns.path and res["ips"][0]["address"] == f"{a.ip()}/24", res
    wait_ping_ok(a, b.ip())
    assert cni.check(conf, a.cid, a.ns.path).ok  # weft then tuning, each with the chain's result
    for pod in (a, b):
        assert cni.delete(conf, pod.cid, pod.ns.path).ok  # tuning first, then weft
    assert leftovers(node, a, b) == nothing_left(node, a, b)


def test_chain_tuning_mac_is_followed(node, container, cni, tmp_path):
    """tuning's "mac" sets a new MAC on eth0 after weft's ADD. Before, the source guard kept
    weft's MAC and dropped everything the pod sent as l2-input/spoofed-mac while CHECK passed.
    Now weftd follows the interface's new MAC (at the pod's first frame, or at CHECK) and
    CHECK compares what weftd lets the pod send from with the chain's result."""
    new_mac = "02:aa:bb:cc:dd:01"
    tuning = {"type": "tuning", "dataDir": str(tmp_path / "tuning"), "mac": new_mac}
    conf = cni.conflist("chainmac", [cni.weft(network="chainmac", subnet=SUBNET), tuning], "1.0.0")
    a, b = container("a"), container("b")
    r = cni.add(conf, a.cid, a.ns.path)
    assert r.ok, r
    assert r.json["interfaces"][1]["mac"] == new_mac, r.json
    assert a.ns.mac("eth0") == new_mac
    plain = cni.conflist("chainmac", [cni.weft(network="chainmac", subnet=SUBNET)], "1.0.0")
    assert cni.add(plain, b.cid, b.ns.path).ok
    # The pod's first frames (ARP) are dropped until weftd looks at eth0; then it follows.
    wait_ping_ok(a, b.ip())
    wait_ping_ok(a, "10.95.0.1")
    att = node.attachment(a.cid)
    assert att["mac"] == new_mac, att
    assert cni.check(conf, a.cid, a.ns.path).ok

    # A MAC changed by hand to something the chain's result does not say: CHECK fails, naming it.
    a.run(["ip", "link", "set", "eth0", "address", "02:aa:bb:cc:dd:02"])
    err = cni.check(conf, a.cid, a.ns.path).error()
    assert err["code"] == 101 and "02:aa:bb:cc:dd:02" in err["msg"] and new_mac in err["msg"], err
    # A pod may not take another pod's MAC: weftd refuses to follow, the guard holds, CHECK says why.
    a.run(["ip", "link", "set", "eth0", "address", b.ns.mac("eth0")])
    err = cni.check(conf, a.cid, a.ns.path).error()
    assert err["code"] == 101 and "has that MAC" in err["msg"], err
    before = node.error_counters().get("l2-input/spoofed-mac", 0)
    assert ping(a, b.ip(), count=2).received == 0
    assert node.error_counters().get("l2-input/spoofed-mac", 0) > before
    assert node.attachment(a.cid)["mac"] == "02:aa:bb:cc:dd:02"

    assert cni.delete(conf, a.cid, a.ns.path).ok
    assert cni.delete(plain, b.cid, b.ns.path).ok
    assert leftovers(node, a, b) == nothing_left(node, a, b)
