"""A minimal CNI runtime for the weft-cni integration tests.

It does what libcni does, by hand: for each plugin of a conflist it derives the plugin's
configuration (the plugin object plus the list's "name" and "cniVersion", and prevResult from
the plugin before it), finds the executable named by "type" in CNI_PATH, and runs it with the
CNI_* environment and the configuration on stdin. Plugins run inside the node's network
namespace (`ip netns exec NODE plugin`), like a runtime on that node would run them.

weft-cni is made available as type "weft" through a temporary bin directory holding a symlink
to the built binary, ahead of Debian's reference plugins in /usr/lib/cni.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from weftlib import Weftd, weft_binary

REFERENCE_PLUGINS = Path("/usr/lib/cni")


@dataclass
class CNIResult:
    """One plugin invocation: exit status, parsed stdout (or None), stderr, seconds taken."""

    returncode: int
    stdout: str
    stderr: str
    seconds: float
    plugin: str = ""
    command: str = ""

    @property
    def json(self):
        return json.loads(self.stdout) if self.stdout.strip() else None

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def error(self) -> dict:
        """The CNI error object; asserts the invocation failed the way the spec says."""
        assert self.returncode != 0, f"{self.plugin} {self.command} unexpectedly succeeded: {self.stdout}"
        err = self.json
        assert isinstance(err, dict) and isinstance(err.get("code"), int) and err.get("msg"), (
            f"{self.plugin} {self.command} failed without a CNI error on stdout: "
            f"rc={self.returncode} stdout={self.stdout!r} stderr={self.stderr!r}")
        return err

    def __repr__(self) -> str:
        return (f"{self.plugin} {self.command}: rc={self.returncode} stdout={self.stdout.strip()[:600]} "
                f"stderr={self.stderr.strip()[:300]}")


class CNIRuntime:
    """Runs conflists against one node (its weftd and network namespace)."""

    def __init__(self, node: Weftd, workdir: Path | None = None):
        self.node = node
        self.dir = Path(workdir or tempfile.mkdtemp(prefix="weft-cni-it-"))
        self.bin = self.dir / "bin"
        self.bin.mkdir(parents=True, exist_ok=True)
        link = self.bin / "weft"
        if not link.exists():
            link.symlink_to(weft_binary("weft-cni"))
        self.cni_path = f"{self.bin}:{REFERENCE_PLUGINS}"
        self.cache: dict[tuple[str, str, str], dict] = {}  # (network, container, ifname) -> last result

    # -- configurations

    def conflist(self, name: str, plugins: list[dict], version: str = "1.1.0") -> dict:
        return {"cniVersion": version, "name": name, "plugins": plugins}

    def weft(self, **fields) -> dict:
        """A weft plugin object pointing at this node's weftd socket."""
        conf = {"type": "weft", "socket": self.node.socket}
        conf.update(fields)
        return conf

    @staticmethod
    def plugin_conf(conflist: dict, plugin: dict, prev_result: dict | None = None, **extra) -> dict:
        conf = {k: v for k, v in plugin.items() if k != "capabilities"}
        conf["name"] = conflist["name"]
        conf["cniVersion"] = conflist["cniVersion"]
        if prev_result is not None:
            conf["prevResult"] = prev_result
        conf.update(extra)
        return conf

    # -- one invocation

    def exec(self, plugin_type: str, command: str, stdin: bytes | str | dict, *, container_id: str | None = None,
             netns: str | None = None, ifname: str | None = None, args: str | None = None,
             cni_path: str | None = None, env: dict | None = None, drop: tuple[str, ...] = (),
             timeout: float = 60) -> CNIResult:
        """Run one plugin exactly as a runtime does. `env` adds/overrides, `drop` removes variables."""
        path = cni_path if cni_path is not None else self.cni_path
        binary = next((Path(d) / plugin_type for d in path.split(":")
                       if d and os.access(Path(d) / plugin_type, os.X_OK)), None)
        assert binary is not None, f"plugin {plugin_type} not found in {path}"
        environment = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "CNI_COMMAND": command, "CNI_PATH": path}
        if container_id is not None:
            environment["CNI_CONTAINERID"] = container_id
        if netns is not None:
            environment["CNI_NETNS"] = netns
        if ifname is not None:
            environment["CNI_IFNAME"] = ifname
        if args is not None:
            environment["CNI_ARGS"] = args
        environment.update(env or {})
        for name in drop:
            environment.pop(name, None)
        if isinstance(stdin, dict):
            stdin = json.dumps(stdin)
        if isinstance(stdin, str):
            stdin = stdin.encode()
        start = time.perf_counter()
        p = subprocess.run(self.node.node.cmd([str(binary)]), input=stdin, env=environment,
                           capture_output=True, timeout=timeout)
        return CNIResult(p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace"),
                         time.perf_counter() - start, plugin_type, command)

    # -- whole conflists, as libcni runs them

    def add(self, conflist: dict, container_id: str, netns: str, ifname: str = "eth0",
            args: str | None = None) -> CNIResult:
        prev = None
        result = None
        for plugin in conflist["plugins"]:
            result = self.exec(plugin["type"], "ADD", self.plugin_conf(conflist, plugin, prev),
                               container_id=container_id, netns=netns, ifname=ifname, args=args)
            if not result.ok:
                return result
            prev = result.json
        self.cache[(conflist["name"], container_id, ifname)] = prev
        return result

    def check(self, conflist: dict, container_id: str, netns: str, ifname: str = "eth0") -> CNIResult:
        prev = self.cache[(conflist["name"], container_id, ifname)]
        result = None
        for plugin in conflist["plugins"]:
            result = self.exec(plugin["type"], "CHECK", self.plugin_conf(conflist, plugin, prev),
                               container_id=container_id, netns=netns, ifname=ifname)
            if not result.ok:
                return result
        return result

    def delete(self, conflist: dict, container_id: str, netns: str | None, ifname: str = "eth0",
               with_prev_result: bool = True) -> CNIResult:
        prev = self.cache.get((conflist["name"], container_id, ifname)) if with_prev_result else None
        result = None
        for plugin in reversed(conflist["plugins"]):
            result = self.exec(plugin["type"], "DEL", self.plugin_conf(conflist, plugin, prev),
                               container_id=container_id, netns=netns, ifname=ifname)
            if not result.ok:
                return result
        self.cache.pop((conflist["name"], container_id, ifname), None)
        return result

    def gc(self, conflist: dict, valid: list[tuple[str, str]]) -> CNIResult:
        attachments = [{"containerID": c, "ifname": i} for c, i in valid]
        result = None
        for plugin in conflist["plugins"]:
            result = self.exec(plugin["type"], "GC", self.plugin_conf(
                conflist, plugin, None, **{"cni.dev/valid-attachments": attachments, "cni.dev/attachments": attachments}))
            if not result.ok:
                return result
        return result

    def status(self, conflist: dict) -> CNIResult:
        result = None
        for plugin in conflist["plugins"]:
            result = self.exec(plugin["type"], "STATUS", self.plugin_conf(conflist, plugin))
            if not result.ok:
                return result
        return result


# -- weftd state, for "nothing left behind"

def leases(node: Weftd) -> list[tuple]:
    """(network, address, container_id, if_name) rows of weftd's lease table."""
    db = sqlite3.connect(node.state, timeout=10)
    try:
        return db.execute("SELECT network, address, container_id, if_name FROM leases ORDER BY address").fetchall()
    finally:
        db.close()


def leftovers(node: Weftd, *containers) -> dict:
    """Everything a pod can leave behind: attachments, leases, host veths, container links."""
    return {
        "attachments": [(a["containerId"], a["ifName"]) for a in node.attachments()],
        "leases": leases(node),
        "host veths": sorted(node.veths_in_node()),
        "container links": {c.name: sorted(c.ns.link_names() - {"lo"}) for c in containers if c.ns.alive},
    }


def nothing_left(node: Weftd, *containers) -> dict:
    return {"attachments": [], "leases": [], "host veths": [],
            "container links": {c.name: [] for c in containers if c.ns.alive}}
