"""pcap: `weftctl capture` writes what enters a point of the graph into a pcap file while
forwarding goes on (tshark reads it back); `weftctl replay` plays a capture file into a network
through pcap-input (the L2 path, and the IPv4 path through the network's gateway).

Capture files are written without scapy (plain struct); traffic stays between the namespaces
the test creates."""

from __future__ import annotations

import os
import socket
import struct
import subprocess
import time

from weftlib import ping, run, wait_ping_ok, wait_until

FAKE_MAC = "02:aa:00:00:00:01"


# ---------------------------------------------------------------------------------- frames


def mac_bytes(mac: str) -> bytes:
    return bytes(int(x, 16) for x in mac.split(":"))


def checksum(b: bytes) -> int:
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack(f"!{len(b) // 2}H", b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def ipv4_udp(src: str, dst: str, ttl: int = 64, dport: int = 9999, payload: bytes = b"weft-replay " * 4,
             ident: int = 0x1234, bad_checksum: bool = False) -> bytes:
    udp = struct.pack("!HHHH", 40000, dport, 8 + len(payload), 0) + payload  # UDP checksum 0: none
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), ident, 0, ttl, 17, 0,
                      socket.inet_aton(src), socket.inet_aton(dst))
    c = checksum(hdr) ^ (0x5A5A if bad_checksum else 0)
    return hdr[:10] + struct.pack("!H", c) + hdr[12:] + udp


def ether(dst: str, src: str, payload: bytes, ethertype: int = 0x0800) -> bytes:
    return mac_bytes(dst) + mac_bytes(src) + struct.pack("!H", ethertype) + payload


def write_pcap(path, frames: list[bytes], linktype: int = 1) -> None:
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, linktype))
        for i, fr in enumerate(frames):
            f.write(struct.pack("<IIII", 1_700_000_000 + i, 0, len(fr), len(fr)) + fr)


def read_pcap(path) -> list[bytes]:
    """Frames of a classic pcap file (either byte order, micro or nano timestamps)."""
    data = open(path, "rb").read()
    magic = struct.unpack("<I", data[:4])[0]
    order = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
    out, off = [], 24
    while off + 16 <= len(data):
        _, _, caplen, _ = struct.unpack(order + "IIII", data[off:off + 16])
        out.append(data[off + 16:off + 16 + caplen])
        off += 16 + caplen
    return out


def tshark_protocols(path) -> list[str]:
    p = run(["tshark", "-r", str(path), "-T", "fields", "-e", "frame.protocols"])
    return [l.strip() for l in p.stdout.splitlines() if l.strip()]


class TcpdumpFile:
    """tcpdump -w FILE inside a namespace, confirmed listening before traffic is sent."""

    def __init__(self, c, path, bpf: str, count: int, timeout: float = 20):
        self.path = path
        self.proc = c.popen(["timeout", str(timeout), "tcpdump", "-i", "eth0", "-U", "-n",
                             "-c", str(count), "-w", str(path), bpf],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        os.set_blocking(self.proc.stderr.fileno(), False)
        buf, deadline = b"", time.monotonic() + 10
        while b"listening on" not in buf:
            if self.proc.poll() is not None:
                raise AssertionError(f"tcpdump exited early: {buf + (self.proc.stderr.read() or b'')!r}")
            assert time.monotonic() < deadline, "tcpdump did not start listening within 10s"
            buf += self.proc.stderr.read() or b""
            time.sleep(0.05)

    def frames(self, timeout: float = 25) -> list[bytes]:
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        return read_pcap(self.path)


def send_raw(c, frames: list[bytes]) -> None:
    """Sends Ethernet frames as they are from the container's eth0 (AF_PACKET)."""
    code = ("import socket,sys\ns=socket.socket(socket.AF_PACKET,socket.SOCK_RAW)\ns.bind(('eth0',0))\n"
            "data=sys.stdin.buffer.read()\ni=0\n"
            "while i<len(data):\n n=int.from_bytes(data[i:i+2],'big'); s.send(data[i+2:i+2+n]); i+=2+n\n")
    blob = b"".join(len(f).to_bytes(2, "big") + f for f in frames)
    c.run(["python3", "-c", code], input=blob)


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, in seconds."""
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def bvi_mac(node, network: str) -> str:
    r = node.http("GET", f"/v1/networks/{network}")
    assert r.status == 200, r
    bd = r.json()["bridgeDomain"]
    return f"02:fe:ff:00:{bd >> 8:02x}:{bd & 0xFF:02x}"


def error_of(r, status_range=(400, 499)) -> str:
    assert status_range[0] <= r.status <= status_range[1], f"expected 4xx, got {r}"
    err = r.json()["error"]
    assert err.get("code") and err.get("message"), r
    return err["message"]


def _pair(node, container, net="pc", subnet="10.93.0.0/24"):
    node.create_network(net, subnet)
    a, b = container("a"), container("b")
    att_a = node.attach(a, net)
    node.attach(b, net)
    wait_ping_ok(a, b.ip())
    return a, b, att_a


# ---------------------------------------------------------------------------------- capture


def test_capture_rx_of_a_container_while_pinging(node, container, tmp_path):
    a, b, att_a = _pair(node, container)
    out = tmp_path / "rx.pcap"
    p = node.ctl("capture", "start", att_a["hostIfName"], "rx", "-w", str(out), "--count", "10")
    assert "running" in p.stdout, p.stdout
    r = ping(a, b.ip(), count=12, interval=0.05)
    assert r.received >= 12, r.summary()

    def done():
        st = node.http("GET", "/v1/captures").json()
        return st if st["state"] == "done" else None

    st = wait_until(done, timeout=10, what="capture to reach 10 packets")
    assert st["written"] == 10 and st["overrun"] == 0, st
    final = node.ctl_json("capture", "stop")
    assert final["written"] == 10 and final["state"] == "done", final
    protos = tshark_protocols(out)
    assert len(protos) == 10 and all(p.startswith("eth:ethertype:ip:icmp") for p in protos), protos  # (":data": the payload)
    # Byte check: echo requests from a's MAC and address to b's.
    for f in read_pcap(out):
        assert f[6:12] == mac_bytes(a.mac()), f.hex()
        assert socket.inet_ntoa(f[26:30]) == a.ip() and socket.inet_ntoa(f[30:34]) == b.ip(), f.hex()
    # Forwarding never stopped, and the status stays readable.
    assert ping(a, b.ip(), count=3, interval=0.05).received >= 3
    assert node.http("GET", "/v1/captures").json()["state"] == "done"


def test_capture_tx_with_filter_and_stop(node, container, tmp_path):
    a, b, att_a = _pair(node, container)
    out = tmp_path / "tx.pcap"
    node.ctl("capture", "start", att_a["hostIfName"], "tx", "-w", str(out), "--filter", "icmp[icmptype] == icmp-echoreply")
    r = ping(a, b.ip(), count=5, interval=0.05)
    assert r.received >= 5, r.summary()
    time.sleep(0.1)
    st = node.ctl_json("capture", "stop")
    # Every echo reply the pod got was captured on its way out (ping may send and count one
    # more than -c, and a last reply may arrive after it exited).
    assert st["state"] == "stopped" and r.received <= st["written"] <= r.transmitted, (st, r.summary())
    assert st["captured"] >= st["written"], st
    protos = tshark_protocols(out)
    assert len(protos) == st["written"] and all(p.startswith("eth:ethertype:ip:icmp") for p in protos), protos
    for f in read_pcap(out):
        assert f[0:6] == mac_bytes(a.mac()) and f[34] == 0, f.hex()  # to a, echo reply
    r = node.http("DELETE", "/v1/captures")
    assert "no capture is running" in error_of(r)


def test_capture_error_drop_node(node, container, tmp_path):
    a, b, att_a = _pair(node, container)
    gw = bvi_mac(node, "pc")
    bad = [ether(gw, a.mac(), ipv4_udp(a.ip(), "10.93.0.1", ident=0x4000 + i, bad_checksum=True)) for i in range(4)]
    out = tmp_path / "drop.pcap"
    node.ctl("capture", "start", "error-drop", "-w", str(out), "--count", "4", "--filter", "ip and udp port 9999")
    send_raw(a, bad)
    wait_until(lambda: node.http("GET", "/v1/captures").json()["state"] == "done", timeout=10,
               what="4 dropped packets captured")
    st = node.ctl_json("capture", "stop")
    assert st["written"] == 4 and st["node"] == "error-drop", st
    assert read_pcap(out) == bad, "the dropped frames, byte for byte"
    errors = node.ctl_json("show", "errors")
    assert any(e["node"] == "ip4-input" and e["name"] == "bad-checksum" and e["count"] >= 4 for e in errors), errors
    assert ping(a, b.ip(), count=2, interval=0.05).received >= 2


# ---------------------------------------------------------------------------------- replay


def test_replay_drives_l2_and_ipv4_paths(node, container, tmp_path):
    node.create_network("ra", "10.94.0.0/24")
    node.create_network("rb", "10.95.0.0/24")
    c1, c2 = container("c1"), container("c2")
    node.attach(c1, "ra")
    node.attach(c2, "rb")
    wait_ping_ok(c1, c2.ip())  # resolves c2 on rb's side (ARP), so routed frames go out at once

    # L2: frames to c1's MAC replayed 3 times into ra arrive in c1 unchanged.
    l2_frames = [ether(c1.mac(), FAKE_MAC, ipv4_udp("10.94.0.200", c1.ip(), ident=0x100 + i,
                                                      payload=bytes([i]) * (40 + 30 * i))) for i in range(3)]
    l2_file = tmp_path / "l2.pcap"
    write_pcap(l2_file, l2_frames)
    cap = TcpdumpFile(c1, tmp_path / "c1.pcap", f"ether src {FAKE_MAC}", count=9)
    p = node.ctl("replay", "add", "l2", "--file", str(l2_file), "--network", "ra", "--count", "3")
    assert "pcap-l2" in p.stdout, p.stdout
    got = cap.frames()
    assert got == l2_frames * 3, [f.hex() for f in got]
    replays = wait_until(lambda: [r for r in node.ctl_json("replay", "list") if r["state"] == "done"],
                         timeout=5, what="replay l2 done")
    assert replays[0]["packetsSent"] == 9 and replays[0]["loopsDone"] == 3, replays
    ifs = {i["name"]: i for i in node.interfaces()}
    assert ifs["pcap-l2"]["driver"] == "pcap" and ifs["pcap-l2"]["rxPackets"] == 9, ifs["pcap-l2"]
    assert ifs["pcap-l2"].get("mode") == "replay 3x", ifs["pcap-l2"]
    # A finished replay costs nothing: the adaptive worker goes back to blocking in poll(2).
    time.sleep(0.2)
    c0 = cpu_seconds(node.pid)
    time.sleep(1.0)
    busy = cpu_seconds(node.pid) - c0
    assert busy < 0.3, f"weftd used {busy:.2f} s of CPU in 1 s with only a finished replay"

    # IPv4: to ra's gateway MAC, for c2's address in rb: routed (TTL 63, MACs rewritten).
    gw_a, gw_b = bvi_mac(node, "ra"), bvi_mac(node, "rb")
    routed_in = [ether(gw_a, FAKE_MAC, ipv4_udp("10.94.0.200", c2.ip(), ident=0x200 + i)) for i in range(2)]
    routed_out = [ether(c2.mac(), gw_b, ipv4_udp("10.94.0.200", c2.ip(), ttl=63, ident=0x200 + i)) for i in range(2)]
    ip_file = tmp_path / "ip.pcap"
    write_pcap(ip_file, routed_in)
    cap = TcpdumpFile(c2, tmp_path / "c2.pcap", "udp port 9999", count=2)
    node.ctl("replay", "add", "routed", "--file", str(ip_file), "--network", "ra", "--rate", "100")
    got = cap.frames()
    assert got == routed_out, f"got {[f.hex() for f in got]}\nexpected {[f.hex() for f in routed_out]}"

    node.ctl("replay", "delete", "l2")
    node.ctl("replay", "delete", "routed")
    assert node.ctl_json("replay", "list") == []
    assert "pcap-l2" not in {i["name"] for i in node.interfaces()}
    assert ping(c1, c2.ip(), count=2, interval=0.05).received >= 2


def test_replay_loop_at_rate_then_delete(node, container, tmp_path):
    node.create_network("lp", "10.96.0.0/24")
    c1 = container("c1")
    node.attach(c1, "lp")
    f = tmp_path / "loop.pcap"
    write_pcap(f, [ether("02:aa:00:00:00:02", FAKE_MAC, ipv4_udp("10.96.0.200", "10.96.0.201"))])
    node.ctl("replay", "add", "loop", "--file", str(f), "--network", "lp", "--count", "0", "--rate", "200")
    time.sleep(1.0)
    r = node.ctl_json("replay", "list")[0]
    assert r["state"] == "playing" and 100 <= r["packetsSent"] <= 400, r  # ~200 in 1 s, generous bounds
    # At 200 pps the idle worker sleeps in poll(2) between bursts rather than spinning.
    c0 = cpu_seconds(node.pid)
    time.sleep(1.0)
    busy = cpu_seconds(node.pid) - c0
    assert busy < 0.5, f"weftd used {busy:.2f} s of CPU in 1 s replaying 200 pps"
    ifs = {i["name"]: i for i in node.interfaces()}
    assert ifs["pcap-loop"].get("mode") == "replay loop at 200 pps", ifs["pcap-loop"]
    node.ctl("replay", "delete", "loop")
    assert node.ctl_json("replay", "list") == []


# ---------------------------------------------------------------------------------- bad input


def test_bad_input_gives_clear_4xx_and_forwarding_continues(node, container, tmp_path):
    a, b, att_a = _pair(node, container)
    text = tmp_path / "notes.txt"
    text.write_text("this is not a capture file\n" * 10)
    raw = tmp_path / "raw.pcap"
    write_pcap(raw, [b"\x45" + b"\0" * 39], linktype=101)
    trunc = tmp_path / "trunc.pcap"
    write_pcap(trunc, [ether(a.mac(), FAKE_MAC, ipv4_udp("10.93.0.9", a.ip()))] * 2)
    trunc.write_bytes(trunc.read_bytes()[:-20])

    def replay(file, **kw):
        return node.http("POST", "/v1/replays", {"name": "bad", "file": str(file), "network": "pc", **kw})

    assert "unknown file format" in error_of(replay(text))
    assert "No such file" in error_of(replay(tmp_path / "missing.pcap"))
    assert "only Ethernet" in error_of(replay(raw))
    assert "truncated" in error_of(replay(trunc))
    assert "count -1" in error_of(replay(trunc, count=-1))
    assert "absolute path" in error_of(replay("relative.pcap"))
    r = node.http("POST", "/v1/replays", {"name": "bad", "file": str(text), "network": "nope"})
    assert "does not exist" in error_of(r)

    def capture(**kw):
        return node.http("POST", "/v1/captures", {"file": str(tmp_path / "x.pcap"), **kw})

    assert "no interface named" in error_of(capture(interface="nosuchif0"))
    assert "no graph node named" in error_of(capture(node="no-such-node"))
    msg = error_of(capture(interface=att_a["hostIfName"], filter="tcp port banana"))
    assert "tcp port banana" in msg, msg
    assert "does not exist" in error_of(node.http("POST", "/v1/captures", {"interface": att_a["hostIfName"],
                                                                         "file": "/nonexistent-dir/x.pcap"}))
    assert "rx, tx, drop" in error_of(capture(interface=att_a["hostIfName"], direction="sideways"))
    assert "count" in error_of(capture(interface=att_a["hostIfName"], count=-5))
    p = node.ctl("capture", "start", "nosuchif0", "rx", "-w", str(tmp_path / "y.pcap"), check=False)
    assert p.returncode == 1 and "no interface named" in p.stderr, p.stderr

    # One capture at a time.
    assert capture(interface=att_a["hostIfName"]).status == 201
    assert capture(interface=att_a["hostIfName"]).status == 409
    assert node.http("DELETE", "/v1/captures").status == 200
    assert node.http("GET", "/v1/replays").json() == []
    assert ping(a, b.ip(), count=3, interval=0.05).received >= 3
