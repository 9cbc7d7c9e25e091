"""configs/10-weft.conflist, as shipped, through Debian's libcni (1.1.2): the library container
runtimes link parses the file, runs weft-cni, parses and caches its result, and gives that
result back to CHECK and DEL. Only the weftd socket path is rewritten, to the test's weftd.

libcni before 1.2 cannot parse a cniVersion 1.1.0 result, which is why the shipped file says
1.0.0; the second test shows what 1.1.0 would do to such a runtime, and that weft-cni's ADD
leaves nothing behind when libcni fails after it."""

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from cnilib import leftovers, nothing_left
from weftlib import ping, wait_ping_ok, weft_binary

REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "configs" / "10-weft.conflist"
LIBCNI = Path("/usr/share/gocode/src/github.com/containernetworking/cni/libcni")
DRIVER_SOURCE = Path(__file__).parent / "libcni" / "main.go"

pytestmark = pytest.mark.skipif(not (shutil.which("go") and LIBCNI.is_dir()),
                                reason="go or Debian's libcni missing: run scripts/install-deps.sh")


@pytest.fixture(scope="module")
def driver():
    """The Go driver, built against /usr/share/gocode (no network, no modules)."""
    d = Path(tempfile.mkdtemp(prefix="weft-libcni-"))
    try:
        env = dict(os.environ, GO111MODULE="off", GOPATH="/usr/share/gocode", GOCACHE=str(d / "gocache"),
                   GOFLAGS="")
        p = subprocess.run(["go", "build", "-o", str(d / "libcni-driver"), str(DRIVER_SOURCE)],
                           env=env, capture_output=True, text=True, timeout=300)
        assert p.returncode == 0, f"building the libcni driver failed:\n{p.stderr}"
        yield d / "libcni-driver"
    finally:
        shutil.rmtree(d, ignore_errors=True)


class Runtime:
    """One conflist file run by the driver in the node namespace, as a runtime would."""

    def __init__(self, node, driver: Path, workdir: Path, conflist: dict):
        self.node, self.driver = node, driver
        self.bin = workdir / "bin"
        self.bin.mkdir(exist_ok=True)
        (self.bin / "weft").symlink_to(weft_binary("weft-cni"))
        self.cache = workdir / "cache"
        self.path = workdir / "10-weft.conflist"
        self.path.write_text(json.dumps(conflist, indent=2))

    def run(self, command: str, container_id: str, netns: str, ifname: str = "eth0"):
        argv = [str(self.driver), command, str(self.path), f"{self.bin}:/usr/lib/cni", str(self.cache),
                container_id, netns, ifname]
        return subprocess.run(self.node.node.cmd(argv), capture_output=True, text=True, timeout=60,
                              env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"})


def shipped_for(node) -> dict:
    conf = json.loads(SHIPPED.read_text())
    weft = conf["plugins"][0]
    assert weft["type"] == "weft" and weft["socket"] == "/run/weft/weft.sock", weft
    weft["socket"] = node.socket
    return conf


def test_shipped_conflist_through_libcni(node, container, driver, tmp_path):
    conf = shipped_for(node)
    shipped = json.loads(SHIPPED.read_text())
    shipped["plugins"][0].pop("socket")
    assert {**conf, "plugins": [{k: v for k, v in conf["plugins"][0].items() if k != "socket"}]} == shipped
    rt = Runtime(node, driver, tmp_path, conf)
    pod = container("pod")

    add = rt.run("add", pod.cid, pod.ns.path)
    assert add.returncode == 0, add.stderr
    result = json.loads(add.stdout)
    assert result["cniVersion"] == "1.0.0", result
    ip = result["ips"][0]
    assert ip["address"].startswith("10.72.") and ip["address"].endswith("/16"), result
    assert any(i.get("sandbox") == pod.ns.path and i["name"] == "eth0" for i in result["interfaces"]), result
    gateway = ip["gateway"]
    wait_ping_ok(pod, gateway)

    check = rt.run("check", pod.cid, pod.ns.path)
    assert check.returncode == 0, check.stderr
    # CHECK through libcni sees what changed behind the runtime's back.
    pod.run(["ip", "link", "set", "eth0", "down"])
    check = rt.run("check", pod.cid, pod.ns.path)
    assert check.returncode != 0 and "down" in check.stderr, (check.returncode, check.stderr)
    pod.run(["ip", "link", "set", "eth0", "up"])

    delete = rt.run("del", pod.cid, pod.ns.path)
    assert delete.returncode == 0, delete.stderr
    assert ping(pod, gateway, count=1, deadline=1).received == 0
    assert leftovers(node, pod) == nothing_left(node, pod)
    # DEL again (a runtime retries) succeeds with nothing to do.
    assert rt.run("del", pod.cid, pod.ns.path).returncode == 0


def test_cniversion_1_1_0_breaks_libcni_1_1_and_leaves_nothing(node, container, driver, tmp_path):
    conf = shipped_for(node)
    conf["cniVersion"] = "1.1.0"
    rt = Runtime(node, driver, tmp_path, conf)
    pod = container("pod")
    add = rt.run("add", pod.cid, pod.ns.path)
    print(f"libcni 1.1.2 with cniVersion 1.1.0: exit {add.returncode}: {add.stderr.strip()}")
    assert add.returncode != 0, "libcni 1.1.2 accepted a 1.1.0 result: the README's reason for 1.0.0 is wrong"
    # libcni ran weft's ADD, then failed on its result; the runtime now DELs, as CRI runtimes do.
    assert rt.run("del", pod.cid, pod.ns.path).returncode == 0
    assert leftovers(node, pod) == nothing_left(node, pod)
