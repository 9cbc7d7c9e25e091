"""weft-cni given bad input, or no weftd: the CNI error code a runtime acts on, a message that
says what to fix, exit status non-zero, and nothing left behind."""

import pytest

from cnilib import CNIRuntime, leftovers, nothing_left

SUBNET = "10.92.0.0/24"


@pytest.fixture
def cni(node, tmp_path):
    return CNIRuntime(node, tmp_path)


def _conf(cni, version="1.1.0", **weft):
    fields = {"network": "errs", "subnet": SUBNET}
    fields.update(weft)
    return cni.plugin_conf(cni.conflist("errs", [cni.weft(**fields)], version), cni.weft(**fields))


def _err(result, code, *words):
    err = result.error()
    assert err["code"] == code, f"expected code {code}: {result}"
    for word in words:
        assert word in err["msg"], f"{word!r} not in message: {err['msg']}"
    assert result.stderr.startswith("weft-cni: "), result.stderr
    return err


def test_missing_and_invalid_environment(node, container, cni):
    a = container("a")
    conf = _conf(cni)
    full = dict(container_id=a.cid, netns=a.ns.path, ifname="eth0")
    for missing in ("CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME"):
        _err(cni.exec("weft", "ADD", conf, **full, drop=(missing,)), 4, missing)
    _err(cni.exec("weft", "ADD", conf, **full, drop=("CNI_COMMAND",)), 4, "CNI_COMMAND")
    _err(cni.exec("weft", "FROB", conf, **full), 4, "FROB")
    _err(cni.exec("weft", "CHECK", conf, **full, drop=("CNI_PATH",)), 4, "CNI_PATH")
    _err(cni.exec("weft", "ADD", conf, container_id=a.cid, netns=a.ns.path, ifname="bad/name"), 4, "CNI_IFNAME")
    _err(cni.exec("weft", "ADD", conf, container_id="-bad", netns=a.ns.path, ifname="eth0"), 4, "CNI_CONTAINERID")
    _err(cni.exec("weft", "ADD", conf, container_id=a.cid, netns=a.ns.path + "-gone", ifname="eth0"), 4,
         "CNI_NETNS")
    _err(cni.exec("weft", "ADD", conf, **full, args="NOPE"), 4, "CNI_ARGS")
    _err(cni.exec("weft", "ADD", conf, **full, args="UNKNOWN=1"), 4, "UNKNOWN", "IgnoreUnknown")
    assert leftovers(node, a) == nothing_left(node, a)


def test_malformed_configuration(node, container, cni):
    a = container("a")
    full = dict(container_id=a.cid, netns=a.ns.path, ifname="eth0")
    _err(cni.exec("weft", "ADD", '{"cniVersion": "1.1.0", "name": ', **full), 6, "not valid JSON")
    _err(cni.exec("weft", "ADD", "", **full), 6, "empty")
    _err(cni.exec("weft", "ADD", "[1, 2]", **full), 6, "object")
    _err(cni.exec("weft", "ADD", _conf(cni, mtu="big"), **full), 7, "mtu")
    _err(cni.exec("weft", "ADD", _conf(cni, network="Not_Valid"), **full), 7, "network")
    _err(cni.exec("weft", "ADD", _conf(cni, subnet="10.92.0.1/24"), **full), 7, "subnet")
    _err(cni.exec("weft", "ADD", _conf(cni, ipam={"type": 5}), **full), 7, "ipam")
    conf = _conf(cni)
    del conf["cniVersion"]
    _err(cni.exec("weft", "ADD", conf, **full), 7, "cniVersion")
    assert leftovers(node, a) == nothing_left(node, a)


def test_unknown_cni_version(node, container, cni):
    a = container("a")
    for version in ("0.2.0", "1.2.0", "banana"):
        err = _err(cni.exec("weft", "ADD", _conf(cni, version), container_id=a.cid, netns=a.ns.path,
                            ifname="eth0"), 1, version, "1.1.0")
        assert err["cniVersion"] == "1.1.0"
    assert leftovers(node, a) == nothing_left(node, a)


def test_unknown_network(node, container, cni):
    a = container("a")
    conf = _conf(cni, network="nosuchnet", subnet=None)
    del conf["subnet"]
    _err(cni.exec("weft", "ADD", conf, container_id=a.cid, netns=a.ns.path, ifname="eth0"), 7,
         "nosuchnet", "weftctl network create", "subnet")
    # A subnet that disagrees with the existing network is a configuration error too.
    node.create_network("errs", SUBNET)
    _err(cni.exec("weft", "ADD", _conf(cni, subnet="10.92.1.0/24"), container_id=a.cid, netns=a.ns.path,
                  ifname="eth0"), 7, SUBNET, "10.92.1.0/24")
    assert leftovers(node, a) == nothing_left(node, a)


def test_duplicate_add_is_refused(node, container, cni):
    a = container("a")
    conf = _conf(cni)
    full = dict(container_id=a.cid, netns=a.ns.path, ifname="eth0")
    assert cni.exec("weft", "ADD", conf, **full).ok
    before = leftovers(node, a)
    _err(cni.exec("weft", "ADD", conf, **full), 100, "already has an interface")
    assert leftovers(node, a) == before
    assert cni.exec("weft", "DEL", conf, **full).ok


def test_weftd_down(node, container, cni):
    a = container("a")
    conf = _conf(cni)
    full = dict(container_id=a.cid, netns=a.ns.path, ifname="eth0")
    node.stop()
    _err(cni.exec("weft", "ADD", conf, **full), 50, node.socket, "start weftd")
    _err(cni.exec("weft", "STATUS", conf), 50, node.socket)
    _err(cni.exec("weft", "DEL", conf, **full), 11, node.socket, "retry")
    _err(cni.exec("weft", "GC", dict(conf, **{"cni.dev/valid-attachments": []})), 11, node.socket)
    assert a.ns.link_names() == {"lo"} and not node.veths_in_node()
    # Back up: the same ADD works and nothing was recorded meanwhile.
    node.start()
    assert node.attachments() == []
    assert cni.exec("weft", "ADD", conf, **full).ok
    assert cni.exec("weft", "DEL", conf, **full).ok
    assert leftovers(node, a) == nothing_left(node, a)
