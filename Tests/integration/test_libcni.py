"""configs/10-weft.conflist, as shipped, through Debian's libcni (1.1.2): the library container
runtimes link parses the file, runs weft-cni, parses and caches its result, and gives that
result back to CHECK and DEL. Only the weftd socket path is rewritten, to the test's weftd.

libcni before 1.2 cannot parse a cniVersion 1.1.0 result, which is why the shipped file says
1.0.0; the second test shows what 1.1.0 would do to such a runtime: weft-cni's ADD succeeds,
libcni then fails on the result, the pod stays attached until the runtime's DEL, and that DEL
(without a cached result) leaves nothing behind.

The driver (libcni/main.go) is built offline against /usr/share/gocode (Debian packages
golang-go and golang-github-appc-cni-dev; scripts/install-deps.sh installs both)."""

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from cnilib import REFERENCE_PLUGINS, leftovers, nothing_left
from weftlib import ping, wait_ping_ok, weft_binary

REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "configs" / "10-weft.conflist"
SHIPPED_SOCKET = "/run/weft/weft.sock"
GO = Path("/usr/bin/go")
GOPATH = Path("/usr/share/gocode")
LIBCNI = GOPATH / "src" / "github.com" / "containernetworking" / "cni" / "libcni"
DRIVER_SOURCE = Path(__file__).parent / "libcni" / "main.go"

pytestmark = pytest.mark.skipif(not (os.access(GO, os.X_OK) and LIBCNI.is_dir()),
                                reason=f"{GO} or Debian's libcni ({LIBCNI}) missing: "
                                       "scripts/install-deps.sh installs golang-go and golang-github-appc-cni-dev")


@pytest.fixture(scope="module")
def driver():
    """The Go driver, built against /usr/share/gocode: GOPATH mode, no modules, no network."""
    d = Path(tempfile.mkdtemp(prefix="weft-libcni-"))
    try:
        env = dict(os.environ, GO111MODULE="off", GOPATH=str(GOPATH), GOCACHE=str(d / "gocache"),
                   GOFLAGS="", GOPROXY="off")
        p = subprocess.run([str(GO), "build", "-o", str(d / "libcni-driver"), str(DRIVER_SOURCE)],
                           env=env, capture_output=True, text=True, timeout=300)
        assert p.returncode == 0, f"building the libcni driver failed:\n{p.stderr}"
        yield d / "libcni-driver"
    finally:
        shutil.rmtree(d, ignore_errors=True)


class Runtime:
    """One conflist file run by the driver in the node namespace, as a runtime on that node would:
    weft-cni as type "weft" in a temp plugin dir, ahead of Debian's plugins; libcni's result
    cache in the test's temp dir."""

    def __init__(self, node, driver: Path, workdir: Path, conflist_text: str):
        self.node, self.driver = node, driver
        self.bin = workdir / "bin"
        self.bin.mkdir(exist_ok=True)
        (self.bin / "weft").symlink_to(weft_binary("weft-cni"))
        self.cache = workdir / "cache"
        self.path = workdir / "10-weft.conflist"
        self.path.write_text(conflist_text)
        self.name = json.loads(conflist_text)["name"]

    def run(self, command: str, container_id: str, netns: str, ifname: str = "eth0"):
        argv = [str(self.driver), command, str(self.path), f"{self.bin}:{REFERENCE_PLUGINS}", str(self.cache),
                container_id, netns, ifname]
        return subprocess.run(self.node.node.cmd(argv), capture_output=True, text=True, timeout=60,
                              env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"})

    def cached(self, container_id: str, ifname: str = "eth0") -> Path:
        """libcni 1.1.2's cache file for one attachment (libcni/api.go getCacheFilePath)."""
        return self.cache / "results" / f"{self.name}-{container_id}-{ifname}"


def shipped_for(node, cni_version: str | None = None) -> str:
    """The shipped file's text with only the socket path (and, if asked, cniVersion) replaced."""
    text = SHIPPED.read_text()
    assert text.count(json.dumps(SHIPPED_SOCKET)) == 1, text
    text = text.replace(json.dumps(SHIPPED_SOCKET), json.dumps(node.socket))
    if cni_version is not None:
        assert text.count('"cniVersion": "1.0.0"') == 1, text
        text = text.replace('"cniVersion": "1.0.0"', f'"cniVersion": "{cni_version}"')
    return text


def without_socket(conf: dict) -> dict:
    return {**conf, "plugins": [{k: v for k, v in p.items() if k != "socket"} for p in conf["plugins"]]}


def check_fails(rt: Runtime, pod, *words: str) -> str:
    check = rt.run("check", pod.cid, pod.ns.path)
    assert check.returncode != 0 and all(w in check.stderr for w in words), (check.returncode, check.stderr)
    return check.stderr.strip()


def test_shipped_conflist_through_libcni(node, container, driver, tmp_path):
    text = shipped_for(node)
    shipped, used = json.loads(SHIPPED.read_text()), json.loads(text)
    assert used["plugins"][0]["socket"] == node.socket
    assert without_socket(used) == without_socket(shipped)
    assert [p["type"] for p in shipped["plugins"]] == ["weft"], shipped  # chains no other plugin
    weft = shipped["plugins"][0]
    rt = Runtime(node, driver, tmp_path, text)
    pod = container("pod")

    add = rt.run("add", pod.cid, pod.ns.path)
    assert add.returncode == 0, add.stderr
    result = json.loads(add.stdout)
    assert result["cniVersion"] == "1.0.0", result
    # weftd created the network the file names, from the file's "subnet", on first use.
    assert node.http("GET", f"/v1/networks/{weft['network']}").json()["subnet"] == weft["subnet"]
    [ip] = result["ips"]
    assert ip["address"] == f"{pod.ip()}/16" and ip["address"].startswith("10.72."), (result, pod.ip())
    interfaces = result["interfaces"]
    assert interfaces[ip["interface"]] == {"name": "eth0", "mac": pod.mac(), "sandbox": pod.ns.path}, result
    [att] = node.attachments()
    assert (att["containerId"], att["ifName"], att["network"]) == (pod.cid, "eth0", weft["network"]), att
    gateway = ip["gateway"]
    wait_ping_ok(pod, gateway)
    # libcni cached the result it parsed; CHECK and DEL get it from there as prevResult.
    assert json.loads(rt.cached(pod.cid).read_text())["result"]["ips"] == result["ips"]

    check = rt.run("check", pod.cid, pod.ns.path)
    assert check.returncode == 0, check.stderr
    # CHECK through libcni sees what changed behind the runtime's back...
    pod.run(["ip", "link", "set", "eth0", "down"])
    down = check_fails(rt, pod, "eth0", "down")
    pod.run(["ip", "link", "set", "eth0", "up"])
    # The kernel dropped the default route with the link; CHECK wants it back too.
    route = check_fails(rt, pod, "default route", gateway)
    pod.run(["ip", "route", "add", "default", "via", gateway, "dev", "eth0"])
    assert rt.run("check", pod.cid, pod.ns.path).returncode == 0
    # ...including a MAC that only libcni's cached result remembers.
    pod_mac = pod.mac()
    pod.run(["ip", "link", "set", "eth0", "address", "02:00:00:00:00:01"])
    mac = check_fails(rt, pod, "eth0", "02:00:00:00:00:01", pod_mac)
    pod.run(["ip", "link", "set", "eth0", "address", pod_mac])
    assert rt.run("check", pod.cid, pod.ns.path).returncode == 0
    print(f"\nCHECK, link down: {down}\nCHECK, link up again: {route}\nCHECK, MAC changed: {mac}")

    delete = rt.run("del", pod.cid, pod.ns.path)
    assert delete.returncode == 0, delete.stderr
    assert node.attachments() == []
    assert "eth0" not in pod.ns.link_names()
    assert leftovers(node, pod) == nothing_left(node, pod)
    assert not rt.cached(pod.cid).exists()
    assert ping(pod, gateway, count=1, deadline=1).received == 0
    # DEL again (a runtime retries) succeeds with nothing to do.
    again = rt.run("del", pod.cid, pod.ns.path)
    assert again.returncode == 0, again.stderr


def test_cniversion_1_1_0_breaks_libcni_1_1_and_leaves_nothing(node, container, driver, tmp_path):
    rt = Runtime(node, driver, tmp_path, shipped_for(node, "1.1.0"))
    pod = container("pod")
    add = rt.run("add", pod.cid, pod.ns.path)
    print(f"\nlibcni 1.1.2 with cniVersion 1.1.0: exit {add.returncode}: {add.stderr.strip()}")
    assert add.returncode != 0, "libcni 1.1.2 accepted a 1.1.0 result: the README's reason for 1.0.0 is wrong"
    assert 'unsupported CNI result version "1.1.0"' in add.stderr, add.stderr
    # weft-cni's ADD itself succeeded; libcni failed parsing its result, so it cached nothing and
    # the pod is still attached: only the runtime's DEL (CRI runtimes do one) can free it.
    left = leftovers(node, pod)
    print(f"after the failed ADD: {left}")
    assert left["attachments"] == [(pod.cid, "eth0")] and len(left["leases"]) == 1, left
    assert not rt.cached(pod.cid).exists()
    delete = rt.run("del", pod.cid, pod.ns.path)
    assert delete.returncode == 0, delete.stderr
    assert node.attachments() == []
    assert leftovers(node, pod) == nothing_left(node, pod)
