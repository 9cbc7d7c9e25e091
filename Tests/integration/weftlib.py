"""Helpers for Weft integration tests: namespaces, weftd/weftctl, the HTTP API, ping parsing.

Everything here only touches network namespaces the tests created themselves (names carry a
random per-run suffix) and never the machine's own interfaces.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import time
from pathlib import Path
from typing import Any, Callable, Iterable

REPO = Path(__file__).resolve().parents[2]
WEFT_BIN = Path(os.environ.get("WEFT_BIN", REPO / ".build" / "release"))
RUN_SUFFIX = secrets.token_hex(3)  # one per pytest process; tests add their own counter


def weft_binary(name: str) -> Path:
    return WEFT_BIN / name


# What ASan, TSan and UBSan print first in a report (make test-asan / test-tsan).
SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "WARNING: ThreadSanitizer", "ERROR: ThreadSanitizer",
                     "runtime error:", "ERROR: LeakSanitizer")


def sanitizer_report(log_path: Path, context: int = 40) -> str | None:
    """The first sanitizer report in a log (with `context` lines after it), or None."""
    try:
        lines = log_path.read_text(errors="replace").splitlines()
    except FileNotFoundError:
        return None
    for i, line in enumerate(lines):
        if any(m in line for m in SANITIZER_MARKERS):
            return "\n".join(lines[i:i + context])
    return None


# --------------------------------------------------------------------------------------------
# processes


def run(cmd: list[str], *, check: bool = True, timeout: float = 30, input: bytes | None = None
        ) -> subprocess.CompletedProcess:
    """Run a command, capture text output; on failure raise with stdout/stderr in the message."""
    p = subprocess.run(cmd, capture_output=True, timeout=timeout, input=input)
    p.stdout = p.stdout.decode(errors="replace")
    p.stderr = p.stderr.decode(errors="replace")
    if check and p.returncode != 0:
        raise AssertionError(
            f"command failed ({p.returncode}): {' '.join(map(str, cmd))}\n"
            f"stdout: {p.stdout.strip()}\nstderr: {p.stderr.strip()}")
    return p


def wait_until(pred: Callable[[], Any], timeout: float, interval: float = 0.1,
               what: str = "condition") -> Any:
    """Poll pred() until it returns a truthy value or the deadline passes (then AssertionError)."""
    deadline = time.monotonic() + timeout
    last_exc: Exception | None = None
    while True:
        try:
            v = pred()
            if v:
                return v
        except Exception as e:  # keep polling; report the last error if we time out
            last_exc = e
        if time.monotonic() >= deadline:
            extra = f" (last error: {last_exc})" if last_exc else ""
            raise AssertionError(f"timed out after {timeout:.1f}s waiting for {what}{extra}")
        time.sleep(interval)


# --------------------------------------------------------------------------------------------
# namespaces


class Netns:
    """A network namespace created by the test (ip netns add), deleted by delete()."""

    def __init__(self, name: str):
        self.name = name
        self.path = f"/var/run/netns/{name}"
        run(["ip", "netns", "add", name])
        self.alive = True
        run(self.cmd(["ip", "link", "set", "lo", "up"]))

    def cmd(self, argv: list[str]) -> list[str]:
        return ["ip", "netns", "exec", self.name, *argv]

    def run(self, argv: list[str], **kw) -> subprocess.CompletedProcess:
        return run(self.cmd(argv), **kw)

    def popen(self, argv: list[str], **kw) -> subprocess.Popen:
        return subprocess.Popen(self.cmd(argv), **kw)

    def links(self) -> list[dict]:
        out = run(["ip", "-n", self.name, "-j", "link", "show"]).stdout
        return json.loads(out or "[]")

    def link_names(self) -> set[str]:
        return {l["ifname"] for l in self.links()}

    def link(self, ifname: str) -> dict | None:
        for l in self.links():
            if l["ifname"] == ifname:
                return l
        return None

    def ipv4(self, ifname: str = "eth0") -> str | None:
        """First IPv4 address of ifname, without prefix length, or None."""
        p = run(["ip", "-n", self.name, "-j", "-4", "addr", "show", "dev", ifname], check=False)
        if p.returncode != 0:
            return None
        for l in json.loads(p.stdout or "[]"):
            for a in l.get("addr_info", []):
                if a.get("family") == "inet":
                    return a["local"]
        return None

    def mac(self, ifname: str = "eth0") -> str | None:
        l = self.link(ifname)
        return l["address"].lower() if l else None

    def delete(self) -> None:
        if not self.alive:
            return
        self.alive = False
        # Kill anything still running inside (tcpdump, servers...) so the namespace can go away.
        p = run(["ip", "netns", "pids", self.name], check=False)
        for pid in p.stdout.split():
            try:
                os.kill(int(pid), signal.SIGKILL)
            except (ProcessLookupError, ValueError):
                pass
        run(["ip", "netns", "del", self.name], check=False)


# --------------------------------------------------------------------------------------------
# HTTP over the unix socket


class _UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float = 10):
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        s.connect(self._path)
        self.sock = s


class HttpResult:
    def __init__(self, status: int, headers: dict, body: bytes):
        self.status = status
        self.headers = headers
        self.body = body

    def json(self) -> Any:
        return json.loads(self.body.decode())

    def __repr__(self) -> str:
        return f"HTTP {self.status} {self.body[:400]!r}"


def http_request(sock_path: str, method: str, path: str, body: bytes | str | dict | list | None = None,
                 headers: dict | None = None, timeout: float = 10) -> HttpResult:
    if isinstance(body, (dict, list)):
        body = json.dumps(body).encode()
    elif isinstance(body, str):
        body = body.encode()
    hdrs = {"Connection": "close"}
    if body is not None:
        hdrs["Content-Type"] = "application/json"
    hdrs.update(headers or {})
    c = _UnixHTTPConnection(sock_path, timeout=timeout)
    try:
        c.request(method, path, body=body, headers=hdrs)
        r = c.getresponse()
        data = r.read()
        return HttpResult(r.status, {k.lower(): v for k, v in r.getheaders()}, data)
    finally:
        c.close()


def raw_request(sock_path: str, data: bytes, timeout: float = 10) -> tuple[bytes, float]:
    """Sends `data` as it is (malformed, incomplete, oversized requests) and reads until the
    server closes: (response bytes, seconds until closed)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(sock_path)
    t0 = time.monotonic()
    s.sendall(data)
    out = b""
    while True:
        try:
            chunk = s.recv(65536)
        except ConnectionResetError:
            break  # answered and closed without reading everything sent
        if not chunk:
            break
        out += chunk
    s.close()
    return out, time.monotonic() - t0


def status_and_error(raw: bytes) -> tuple[int, dict]:
    """HTTP status and the JSON `error` object of a raw response."""
    head, _, body = raw.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return status, json.loads(body.decode())["error"]


def unwrap_list(obj: Any, *keys: str) -> list:
    """Accept either a bare JSON array or an object wrapping one ({"attachments": [...]})."""
    if isinstance(obj, list):
        return obj
    if isinstance(obj, dict):
        for k in keys:
            if isinstance(obj.get(k), list):
                return obj[k]
        lists = [v for v in obj.values() if isinstance(v, list)]
        if len(lists) == 1:
            return lists[0]
    raise AssertionError(f"expected a JSON list, got: {json.dumps(obj)[:400]}")


# --------------------------------------------------------------------------------------------
# weftd / weftctl


class Weftd:
    """weftd running inside a node namespace, with its socket and state in a temp dir."""

    def __init__(self, node: Netns, tmpdir: Path, extra_args: Iterable[str] = ()):
        self.node = node
        self.tmpdir = tmpdir
        self.socket = str(tmpdir / "weft.sock")
        self.state = str(tmpdir / "state.db")
        self.log_path = tmpdir / "weftd.log"
        self.extra_args = list(extra_args)
        self.proc: subprocess.Popen | None = None
        self._log = None

    # -- lifecycle

    def start(self, ready_timeout: float = 10) -> None:
        assert self.proc is None or self.proc.poll() is not None, "weftd already running"
        self._log = open(self.log_path, "ab")
        self._log.write(f"\n===== weftd start {time.strftime('%H:%M:%S')} =====\n".encode())
        self._log.flush()
        argv = [str(weft_binary("weftd")), "--socket", self.socket, "--state", self.state,
                *self.extra_args]
        # `ip netns exec` execs the command, so proc.pid is weftd's pid.
        self.proc = self.node.popen(argv, stdout=self._log, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL)

        def ready():
            if self.proc.poll() is not None:
                raise AssertionError(
                    f"weftd exited with {self.proc.returncode} during startup:\n{self.log_tail()}")
            return self.ctl("show", "interfaces", check=False).returncode == 0

        try:
            wait_until(ready, ready_timeout, interval=0.1, what="weftd to answer show interfaces")
        except AssertionError as e:
            raise AssertionError(f"{e}\n--- weftd log ---\n{self.log_tail()}") from None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)
        if self._log:
            self._log.close()
            self._log = None

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        if self._log:
            self._log.close()
            self._log = None

    def log_tail(self, n: int = 60) -> str:
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except FileNotFoundError:
            return "(no log)"
        return "\n".join(lines[-n:])

    def fd_count(self) -> int:
        return len(os.listdir(f"/proc/{self.pid}/fd"))

    # -- CLI

    def ctl(self, *args: str, check: bool = True, timeout: float = 30) -> subprocess.CompletedProcess:
        """Run weftctl against this daemon (from the test's namespace: the socket is a path)."""
        return run([str(weft_binary("weftctl")), "--socket", self.socket, *args],
                   check=check, timeout=timeout)

    def ctl_json(self, *args: str) -> Any:
        p = self.ctl(*args, "--json")
        try:
            return json.loads(p.stdout)
        except json.JSONDecodeError as e:
            raise AssertionError(f"weftctl {' '.join(args)} --json printed non-JSON ({e}):\n"
                                 f"{p.stdout[:1000]}") from None

    def show_list(self, *what: str) -> list:
        return unwrap_list(self.ctl_json("show", *what))

    def interfaces(self) -> list[dict]:
        return self.show_list("interfaces")

    def runtime(self) -> list[dict]:
        return self.show_list("runtime")

    def node_vectors(self, node_name: str) -> int:
        for n in self.runtime():
            if n.get("name") == node_name:
                return int(n.get("vectors", 0))
        return 0

    def error_counters(self) -> dict[str, int]:
        """Every error counter (`show errors --json`, zeros included) as {"node/name": count}."""
        return {f"{e['node']}/{e['name']}": e["count"] for e in self.ctl_json("show", "errors")}

    def counters_moved(self, before: dict[str, int]) -> dict[str, int]:
        """The error counters that changed since `before` (an `error_counters()`), by how much."""
        after = self.error_counters()
        return {k: v - before.get(k, 0) for k, v in after.items() if v != before.get(k, 0)}

    def bridge_domain(self, bd: int) -> dict:
        obj = self.ctl_json("show", "bridge-domain", str(bd), "detail")
        if isinstance(obj, list):
            assert len(obj) == 1, f"expected one bridge domain, got {obj}"
            obj = obj[0]
        if isinstance(obj, dict) and "id" not in obj and len(obj) == 1:
            obj = next(iter(obj.values()))  # {"bridgeDomain": {...}}
        if isinstance(obj, list):
            obj = obj[0]
        return obj

    def learned_macs(self, bd: int) -> set[str]:
        macs = self.bridge_domain(bd).get("macs") or []
        return {m["mac"].lower() for m in macs}

    def create_network(self, name: str, subnet: str, *opts: str) -> None:
        self.ctl("network", "create", name, "--subnet", subnet, *opts)

    def attach(self, container: "Container", network: str, ifname: str = "eth0",
               container_id: str | None = None, *opts: str) -> dict:
        cid = container_id or container.cid
        self.ctl("attach", "--container", cid, "--netns", container.ns.path, "--ifname", ifname,
                 "--network", network, *opts)
        att = self.attachment(cid, ifname)
        assert att is not None, f"attach {cid}/{ifname} succeeded but the API does not list it"
        return att

    def detach(self, container_id: str, ifname: str = "eth0") -> None:
        self.ctl("detach", "--container", container_id, "--ifname", ifname)

    # -- HTTP

    def http(self, method: str, path: str, body=None, **kw) -> HttpResult:
        return http_request(self.socket, method, path, body, **kw)

    def attachments(self) -> list[dict]:
        r = self.http("GET", "/v1/attachments")
        assert r.status == 200, f"GET /v1/attachments: {r}"
        return unwrap_list(r.json(), "attachments", "items")

    def attachment(self, container_id: str, ifname: str = "eth0") -> dict | None:
        r = self.http("GET", f"/v1/attachments/{container_id}/{ifname}")
        if r.status == 404:
            return None
        assert r.status == 200, f"GET attachment {container_id}/{ifname}: {r}"
        obj = r.json()
        if isinstance(obj, dict) and "containerId" not in obj and len(obj) == 1:
            obj = next(iter(obj.values()))
        return obj

    def veths_in_node(self) -> set[str]:
        """Host-side veths weftd created in the node namespace (named wf + 8 hex chars)."""
        return {n for n in self.node.link_names() if re.fullmatch(r"wf[0-9a-f]{8}", n)}


class Container:
    """A 'container': just a network namespace, plus an id used for attach."""

    def __init__(self, ns: Netns, cid: str):
        self.ns = ns
        self.cid = cid

    @property
    def name(self) -> str:
        return self.ns.name

    def ip(self, ifname: str = "eth0") -> str | None:
        return self.ns.ipv4(ifname)

    def mac(self, ifname: str = "eth0") -> str | None:
        return self.ns.mac(ifname)

    def run(self, argv: list[str], **kw) -> subprocess.CompletedProcess:
        return self.ns.run(argv, **kw)

    def popen(self, argv: list[str], **kw) -> subprocess.Popen:
        return self.ns.popen(argv, **kw)


# --------------------------------------------------------------------------------------------
# ping


class PingResult:
    def __init__(self, p: subprocess.CompletedProcess):
        self.proc = p
        self.output = p.stdout + p.stderr
        m = re.search(r"(\d+) packets transmitted, (\d+) received", self.output)
        self.transmitted = int(m.group(1)) if m else 0
        self.received = int(m.group(2)) if m else 0
        self.times_ms = [float(t) for t in re.findall(r"time=([\d.]+) ms", self.output)]

    @property
    def loss_pct(self) -> float:
        if self.transmitted == 0:
            return 100.0
        return 100.0 * (self.transmitted - self.received) / self.transmitted

    @property
    def median_ms(self) -> float:
        return statistics.median(self.times_ms) if self.times_ms else float("inf")

    def summary(self) -> str:
        tail = "\n".join(self.output.strip().splitlines()[-3:])
        return f"{self.received}/{self.transmitted} received; {tail}"


def ping(src: Container, dst_ip: str, count: int = 5, interval: float = 0.2, size: int = 56,
         deadline: float | None = None, dont_fragment: bool = True) -> PingResult:
    w = deadline if deadline is not None else count * interval + 5
    argv = ["ping", "-n", "-c", str(count), "-i", str(interval), "-s", str(size), "-W", "2",
            "-w", str(int(w + 0.999))]
    if dont_fragment:
        argv += ["-M", "do"]
    argv.append(dst_ip)
    return PingResult(src.run(argv, check=False, timeout=w + 10))


def wait_ping_ok(src: Container, dst_ip: str, timeout: float = 15) -> None:
    """Poll until one ping gets through (datapath came up); raise after timeout."""
    wait_until(lambda: ping(src, dst_ip, count=1, deadline=1).received == 1, timeout,
               interval=0.2, what=f"ping {src.name} -> {dst_ip}")


# --------------------------------------------------------------------------------------------
# tcpdump


class Capture:
    """tcpdump inside a namespace, started and confirmed listening before traffic is sent."""

    def __init__(self, ns: Netns | Container, ifname: str, bpf: str, count: int, timeout: float):
        ns = ns.ns if isinstance(ns, Container) else ns
        self.proc = ns.popen(
            ["timeout", str(timeout), "tcpdump", "-i", ifname, "-n", "-l", "-e",
             "--immediate-mode", "-c", str(count), bpf],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        # tcpdump prints "listening on IF" once the capture is active.
        os.set_blocking(self.proc.stderr.fileno(), False)
        buf = b""
        deadline = time.monotonic() + 10
        while b"listening on" not in buf:
            if self.proc.poll() is not None:
                buf += self.proc.stderr.read() or b""
                raise AssertionError(f"tcpdump exited early: {buf.decode(errors='replace')}")
            if time.monotonic() > deadline:
                self.proc.kill()
                raise AssertionError("tcpdump did not start listening within 10s")
            chunk = self.proc.stderr.read()
            if chunk:
                buf += chunk
            else:
                time.sleep(0.05)
        self.stderr = buf

    def result(self, timeout: float) -> tuple[int, str]:
        """Wait for tcpdump to finish (count reached or its own timeout); return (lines, text)."""
        try:
            out, err = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, err = self.proc.communicate()
        text = out.decode(errors="replace")
        lines = [l for l in text.splitlines() if l.strip()]
        return len(lines), text


# --------------------------------------------------------------------------------------------
# TCP transfer (tcpxfer.py on both ends)

TCPXFER = str(Path(__file__).with_name("tcpxfer.py"))


@contextlib.contextmanager
def outside_on_uplink(node: "Weftd", out: "Container", uplink_addr: str, outside_addr: str,
                      end: str, uplink_mtu: int | None = None):
    """An "outside" namespace `out` (eth0 = outside_addr/24) on a veth whose other end `end`,
    in weftd's node namespace, becomes weftd's uplink (uplink_addr/24, gateway outside_addr;
    MTU uplink_mtu when given). Yields `out`; the veth is removed afterwards."""
    try:
        run(["ip", "-n", out.ns.name, "link", "add", "eth0", "type", "veth", "peer", "name", end,
             "netns", node.node.name])
        node.node.run(["sysctl", "-q", "-w", f"net.ipv6.conf.{end}.disable_ipv6=1"])
        if uplink_mtu is not None:
            node.node.run(["ip", "link", "set", end, "mtu", str(uplink_mtu)])
        run(["ip", "-n", node.node.name, "link", "set", end, "up"])
        out.run(["ip", "link", "set", "eth0", "up"])
        out.run(["ip", "addr", "add", f"{outside_addr}/24", "dev", "eth0"])
        node.ctl("uplink", "set", end, "--address", f"{uplink_addr}/24", "--gateway", outside_addr)
        yield out
    finally:
        run(["ip", "-n", node.node.name, "link", "del", end], check=False)


def tcp_transfer(src: "Container", dst: "Container", dst_ip: str, port: int, mib: int,
                 timeout: float = 240, connect: tuple[str, int] | None = None) -> dict:
    """`mib` MiB of random bytes from src to a server in dst on dst_ip:port (the client
    connects to `connect`, an (address, port) that leads there, e.g. a published port, when
    given). Asserts that every byte arrived and the sha256 matches on both ends; returns the
    client's report ({"bytes", "sha256", "peer_sha256", "seconds"})."""
    import sys
    srv = dst.popen([sys.executable, TCPXFER, "server", dst_ip, str(port)],
                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = srv.stdout.readline().strip()   # blocks until "ready" or the server dies
        assert line == "ready", f"server did not start: {line!r} {srv.stderr.read()}"
        to_ip, to_port = connect or (dst_ip, port)
        cli = src.run([sys.executable, TCPXFER, "client", to_ip, str(to_port), str(mib)], check=False, timeout=timeout)
        assert cli.returncode == 0, f"client failed: {cli.stderr.strip()[-2000:]}"
        c = json.loads(cli.stdout.strip().splitlines()[-1])
        out, err = srv.communicate(timeout=60)
        assert srv.returncode == 0, f"server failed: {err.strip()[-2000:]}"
        s = json.loads(out.strip().splitlines()[-1])
    finally:
        if srv.poll() is None:
            srv.kill()
            srv.wait()
    mbps = c["bytes"] / c["seconds"] / 1e6
    assert s["bytes"] == c["bytes"] == mib << 20, f"server received {s['bytes']} of {c['bytes']} bytes"
    assert s["sha256"] == c["sha256"] == c["peer_sha256"], (
        f"sha256 mismatch: sent {c['sha256']} received {s['sha256']} ({mbps:.1f} MB/s)")
    return c
