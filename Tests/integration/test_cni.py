"""weft-cni driven exactly as a runtime drives it: ADD, CHECK, DEL, DEL again, one run per
cniVersion, VERSION and STATUS, against weftd in a node namespace and real pod namespaces."""

import ipaddress
import json
import re

import pytest

from cnilib import CNIRuntime, leftovers, nothing_left
from weftlib import ping, wait_ping_ok

SUBNET = "10.93.0.0/24"


@pytest.fixture
def cni(node, tmp_path):
    return CNIRuntime(node, tmp_path)


def _pods_conflist(cni, version="1.1.0", **weft):
    fields = {"network": "pods", "subnet": SUBNET, "dns": {"nameservers": ["10.93.0.1"], "search": ["pods.local"]}}
    fields.update(weft)
    return cni.conflist("weftnet", [cni.weft(**fields)], version)


def test_add_check_del_del(node, container, cni):
    conf = _pods_conflist(cni)
    a, b = container("a"), container("b")
    ra = cni.add(conf, a.cid, a.ns.path)
    assert ra.ok, ra
    rb = cni.add(conf, b.cid, b.ns.path)
    assert rb.ok, rb
    res = ra.json
    # The full 1.1.0 result: host and container interfaces, the address on the container one.
    host, pod = res["interfaces"]
    assert re.fullmatch(r"wf[0-9a-f]{8}", host["name"]) and "sandbox" not in host, host
    assert host["mac"] == node.node.mac(host["name"]), (host, node.node.link(host["name"]))
    assert pod == {"name": "eth0", "mac": a.mac(), "mtu": 1500, "sandbox": a.ns.path}, pod
    assert res["ips"] == [{"address": f"{a.ip()}/24", "gateway": "10.93.0.1", "interface": 1}], res["ips"]
    assert res["routes"] == [{"dst": "0.0.0.0/0", "gw": "10.93.0.1"}]
    assert res["dns"] == {"nameservers": ["10.93.0.1"], "search": ["pods.local"]}
    assert res["cniVersion"] == "1.1.0"
    assert "default via 10.93.0.1 dev eth0" in a.run(["ip", "route"]).stdout
    # weftd created the network on first use.
    assert node.http("GET", "/v1/networks/pods").json()["subnet"] == SUBNET

    wait_ping_ok(a, b.ip())
    r = ping(a, b.ip(), count=5, interval=0.05)
    assert r.loss_pct == 0, r.summary()

    assert cni.check(conf, a.cid, a.ns.path).ok
    d1 = cni.delete(conf, a.cid, a.ns.path)
    assert d1.ok and d1.stdout == "", d1
    # The second DEL (no attachment any more) succeeds too, with or without prevResult.
    cni.cache[("weftnet", a.cid, "eth0")] = res
    assert cni.delete(conf, a.cid, a.ns.path).ok
    assert cni.delete(conf, a.cid, a.ns.path, with_prev_result=False).ok
    # Only b remains, and still works alone.
    left = leftovers(node, a, b)
    assert left["attachments"] == [(b.cid, "eth0")], left
    assert [l[1] for l in left["leases"]] == [b.ip()], left
    assert left["container links"][a.name] == [], left
    assert len(left["host veths"]) == 1, left
    assert cni.delete(conf, b.cid, b.ns.path).ok
    assert leftovers(node, a, b) == nothing_left(node, a, b)


@pytest.mark.parametrize("version", ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"])
def test_result_shape_per_version(node, container, cni, version):
    conf = _pods_conflist(cni, version, mtu=1400)
    a = container("a")
    r = cni.add(conf, a.cid, a.ns.path)
    assert r.ok, r
    res = r.json
    assert res["cniVersion"] == version
    assert set(res) == {"cniVersion", "interfaces", "ips", "routes", "dns"}, res
    host, pod = res["interfaces"]
    assert set(host) == ({"name", "mac", "mtu"} if version == "1.1.0" else {"name", "mac"}), host
    expected_pod = {"name", "mac", "sandbox"} | ({"mtu"} if version == "1.1.0" else set())
    assert set(pod) == expected_pod, pod
    if version == "1.1.0":
        assert pod["mtu"] == host["mtu"] == 1400
    assert a.ns.link("eth0")["mtu"] == 1400
    (ip,) = res["ips"]
    if version < "1.0.0":
        assert ip == {"version": "4", "address": f"{a.ip()}/24", "gateway": "10.93.0.1", "interface": 1}, ip
    else:
        assert ip == {"address": f"{a.ip()}/24", "gateway": "10.93.0.1", "interface": 1}, ip
    assert ipaddress.ip_interface(ip["address"]).ip in ipaddress.ip_network(SUBNET)

    check = cni.check(conf, a.cid, a.ns.path)
    if version < "0.4.0":
        err = check.error()  # CHECK arrived with 0.4.0
        assert err["code"] == 1 and "0.4.0" in err["msg"], err
        assert err["cniVersion"] == version
    else:
        assert check.ok, check
    assert cni.delete(conf, a.cid, a.ns.path).ok
    assert leftovers(node, a) == nothing_left(node, a)


def test_check_reports_what_broke(node, container, cni):
    conf = _pods_conflist(cni)
    a = container("a")
    assert cni.add(conf, a.cid, a.ns.path).ok
    a.run(["ip", "route", "del", "default"])
    err = cni.check(conf, a.cid, a.ns.path).error()
    assert err["code"] == 101 and "default route" in err["msg"], err
    a.run(["ip", "link", "set", "eth0", "down"])
    err = cni.check(conf, a.cid, a.ns.path).error()
    assert err["code"] == 101 and "down" in err["msg"], err
    a.run(["ip", "link", "set", "eth0", "up"])
    a.run(["ip", "addr", "flush", "dev", "eth0"])
    err = cni.check(conf, a.cid, a.ns.path).error()
    assert err["code"] == 101 and "address" in err["msg"], err
    # weftd no longer knowing the pod is a CHECK failure too.
    node.detach(a.cid)
    err = cni.check(conf, a.cid, a.ns.path).error()
    assert err["code"] == 101 and "no attachment" in err["msg"], err
    assert cni.delete(conf, a.cid, a.ns.path).ok


def test_del_after_the_namespace_is_gone(node, container, cni):
    conf = _pods_conflist(cni)
    a = container("a")
    assert cni.add(conf, a.cid, a.ns.path).ok
    a.ns.delete()  # the runtime tore the pod down first
    assert cni.delete(conf, a.cid, a.ns.path, with_prev_result=False).ok
    assert cni.delete(conf, a.cid, None).ok, "DEL without CNI_NETNS"
    assert leftovers(node) == nothing_left(node)


def test_second_network_of_a_pod_keeps_the_first_default_route(node, container, cni):
    conf = _pods_conflist(cni)
    other = cni.conflist("other", [cni.weft(network="other", subnet="10.94.0.0/24")])
    a = container("a")
    assert cni.add(conf, a.cid, a.ns.path).ok
    r = cni.add(other, a.cid, a.ns.path, ifname="net1")
    assert r.ok, r
    assert "routes" not in r.json, r.json  # not installed, so not reported
    assert "default via 10.93.0.1 dev eth0" in a.run(["ip", "route"]).stdout
    assert cni.check(other, a.cid, a.ns.path, ifname="net1").ok
    assert cni.delete(other, a.cid, a.ns.path, ifname="net1").ok
    assert cni.delete(conf, a.cid, a.ns.path).ok
    assert leftovers(node, a) == nothing_left(node, a)


def test_cni_args_ip_asks_weftd_for_that_address(node, container, cni):
    conf = _pods_conflist(cni)
    a = container("a")
    r = cni.add(conf, a.cid, a.ns.path, args="IgnoreUnknown=1;K8S_POD_NAME=web;IP=10.93.0.77")
    assert r.ok, r
    assert r.json["ips"][0]["address"] == "10.93.0.77/24" and a.ip() == "10.93.0.77"
    assert cni.delete(conf, a.cid, a.ns.path).ok


def test_version_and_status(node, cni):
    for asked in ("0.3.1", "1.0.0", "1.1.0"):
        r = cni.exec("weft", "VERSION", {"cniVersion": asked})
        assert r.ok, r
        assert r.json == {"cniVersion": asked,
                          "supportedVersions": ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"]}, r.json
    conf = _pods_conflist(cni)
    st = cni.status(conf)
    assert st.ok and st.stdout == "", st
    # A network that does not exist and cannot be created: not ready for ADD.
    err = cni.status(cni.conflist("x", [cni.weft(network="absent")])).error()
    assert err["code"] == 50 and "absent" in err["msg"], err
    # STATUS is a 1.1.0 command.
    err = cni.status(_pods_conflist(cni, "1.0.0")).error()
    assert err["code"] == 1, err


def test_add_check_del_tap(node, container, cni):
    """"attach": "tap" in the network configuration: the pod gets a TAP weftd serves, no veth."""
    conf = _pods_conflist(cni, attach="tap", queues=2)
    a, b = container("a"), container("b")
    ra = cni.add(conf, a.cid, a.ns.path)
    assert ra.ok, ra
    rb = cni.add(_pods_conflist(cni), b.cid, b.ns.path)
    assert rb.ok, rb
    # only the pod's interface: a tap attachment has no host end
    assert ra.json["interfaces"] == [{"name": "eth0", "mac": a.mac(), "mtu": 1500, "sandbox": a.ns.path}], ra.json
    kind = json.loads(a.run(["ip", "-d", "-j", "link", "show", "eth0"]).stdout)[0]["linkinfo"]["info_kind"]
    assert kind == "tun", kind
    att = node.attachment(a.cid)
    assert att["attach"] == "tap" and att["queues"] == 2, att
    wait_ping_ok(a, b.ip())
    assert cni.check(conf, a.cid, a.ns.path).ok
    assert cni.delete(conf, a.cid, a.ns.path).ok
    assert "eth0" not in a.ns.link_names()
    assert cni.delete(_pods_conflist(cni), b.cid, b.ns.path).ok
    assert leftovers(node, a, b) == nothing_left(node, a, b)
