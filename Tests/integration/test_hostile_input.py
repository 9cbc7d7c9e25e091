"""Hostile input against a real weftd: every class of malformed or spoofed frame a container can
send, and every class of bad API request, each with the one counter or error it must produce.

Frames are crafted here byte by byte and sent from inside a container namespace with an
AF_PACKET socket (rawsend.py), N copies each; the named error counter must grow by exactly N.
Every malformed frame is sent by an unguarded pod and by a pod with the default source guard.
Other counters that moved are recorded too, and what came back to the sending pod (its kernel's
ICMP input counters), which is asserted. With WEFT_HOSTILE_TABLE=FILE the results are written
as the markdown tables of docs/hostile-input.md."""

from __future__ import annotations

import os
import socket
import struct
import sys
import time
from pathlib import Path

import pytest

from weftlib import raw_request, status_and_error, wait_ping_ok

RAWSEND = str(Path(__file__).with_name("rawsend.py"))
API_COUNTER = {400: "bad-request", 403: "forbidden", 404: "not-found", 405: "method-not-allowed",
               408: "request-timeout", 409: "conflict", 413: "body-too-large", 503: "unavailable"}
N = 5
OPEN_NET, OPEN_GW = "10.94.0.0/24", "10.94.0.1"
FAR_NET = "10.95.0.0/24"


# -- frame builders (no library: every byte is what the row says) ---------------------------

def mac(text: str) -> bytes:
    return bytes.fromhex(text.replace(":", ""))


def ip(text: str) -> bytes:
    return socket.inet_aton(text)


def checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s > 0xFFFF:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def ipv4(src: str, dst: str, payload: bytes, proto: int = 17, ttl: int = 64, version: int = 4,
         ihl: int = 5, total: int | None = None, frag: int = 0, bad_checksum: bool = False) -> bytes:
    total = 20 + len(payload) if total is None else total
    h = struct.pack("!BBHHHBBH4s4s", version << 4 | ihl, 0, total, 0x1234, frag, ttl, proto, 0, ip(src), ip(dst))
    c = checksum(h) ^ (0x5555 if bad_checksum else 0)
    return h[:10] + struct.pack("!H", c) + h[12:] + payload


def udp(sport: int, dport: int, data: bytes = b"hostile") -> bytes:
    return struct.pack("!HHHH", sport, dport, 8 + len(data), 0) + data


def icmp(type_: int, code: int = 0, rest: bytes = b"\0\1\0\1" + b"x" * 16, bad_checksum: bool = False) -> bytes:
    body = struct.pack("!BBH", type_, code, 0) + rest
    c = checksum(body) ^ (0x5555 if bad_checksum else 0)
    return body[:2] + struct.pack("!H", c) + body[4:]


def eth(dst: bytes, src: bytes, ethertype: int, payload: bytes) -> bytes:
    return dst + src + struct.pack("!H", ethertype) + payload


def arp(op: int, sha: bytes, spa: str, tha: bytes, tpa: str, htype: int = 1, ptype: int = 0x0800) -> bytes:
    return struct.pack("!HHBBH", htype, ptype, 6, 4, op) + sha + ip(spa) + tha + ip(tpa)


BCAST = b"\xff" * 6

# What comes back to the sending pod: its own kernel's ICMP input counters (/proc/net/snmp is
# per network namespace); a message with a bad checksum shows as InCsumErrors, not as its type.
# InErrors is left out: Linux also counts there every intact ICMP error quoting a UDP port that
# no socket holds (__udp4_lib_err), which is what each answered UDP row here gets back.
ECHO_REPLY, TIME_EXCEEDED, UNREACHABLE = "InEchoReps", "InTimeExcds", "InDestUnreachs"
ICMP_IN_NAMES = {ECHO_REPLY: "ICMP echo reply", TIME_EXCEEDED: "ICMP time exceeded",
                 UNREACHABLE: "ICMP unreachable", "InCsumErrors": "ICMP with a bad checksum"}


# -- the rig ----------------------------------------------------------------------------------


def _send(container, frames: list[bytes], count: int = N) -> None:
    container.run([sys.executable, RAWSEND, "eth0", str(count), *(f.hex() for f in frames)])


def _icmp_in(container) -> dict[str, int]:
    """The pod kernel's ICMP input counters (`Icmp: In*` of /proc/net/snmp) but InMsgs and InErrors."""
    head, values = [line.split()[1:] for line in container.run(["cat", "/proc/net/snmp"]).stdout.splitlines()
                    if line.startswith("Icmp:")]
    return {k: int(v) for k, v in zip(head, values) if k.startswith("In") and k not in ("InMsgs", "InErrors")}


def _neighbour_mac(container, address: str) -> bytes:
    out = container.run(["ip", "-4", "neigh", "show", address]).stdout
    for word_i, word in enumerate(out.split()):
        if word == "lladdr":
            return mac(out.split()[word_i + 1])
    raise AssertionError(f"{container.name}: no neighbour entry for {address}: {out!r}")


@pytest.mark.weftd_args("--api-request-timeout", "2")
def test_hostile_input_table(node, container):
    node.create_network("open", OPEN_NET)
    node.create_network("far", FAR_NET)
    o, g, f = container("o"), container("g"), container("f")
    node.attach(o, "open", "eth0", None, "--no-source-guard")   # malformed frames reach the nodes
    node.attach(g, "open")                                      # the source guard's own rows
    node.attach(f, "far")
    wait_ping_ok(o, OPEN_GW)
    wait_ping_ok(o, f.ip())
    wait_ping_ok(g, OPEN_GW)
    gw = _neighbour_mac(o, OPEN_GW)
    om, oip = mac(o.mac()), o.ip()
    gm, gip = mac(g.mac()), g.ip()
    fip = f.ip()

    def to_gw(payload: bytes, ethertype: int = 0x0800, src: bytes = om) -> bytes:
        return eth(gw, src, ethertype, payload)

    good_udp = udp(40000, 9)

    def udp_len(length: int) -> bytes:   # a UDP header whose length field says `length`
        return struct.pack("!HHHH", 40000, 9, length, 0) + b"hostile"

    # Each malformed row is sent twice: by pod o (no guard: the frame reaches the node behind
    # the guard) and by pod g (the default: the guard sees it first). `build(src_mac, src_ip)`
    # makes the frames; the two counters are what must grow by N for o and for g (None: the
    # kernel drops it before weftd; "-": not sent by that pod). `quiet`: counters (by prefix)
    # that must NOT move, e.g. no ICMP answer to a broken UDP header. `back`: the ICMP message
    # the sending pod's kernel must receive N of (None: nothing at all may come back).
    rows = [
        ("IPv4 ethertype, no IPv4 header (14-byte frame)", lambda m, a: [to_gw(b"", src=m)],
         "ip4-input/too-short", "l2-input/guard-malformed-ip4", (), None),
        ("IPv4 header cut at 12 bytes", lambda m, a: [to_gw(ipv4(a, OPEN_GW, good_udp)[:12], src=m)],
         "ip4-input/too-short", "l2-input/guard-malformed-ip4", (), None),
        ("version 6 in an IPv4 ethertype", lambda m, a: [to_gw(ipv4(a, OPEN_GW, good_udp, version=6), src=m)],
         "ip4-input/bad-version", "ip4-input/bad-version", (), None),
        ("IHL 4 (header shorter than 20 bytes)", lambda m, a: [to_gw(ipv4(a, OPEN_GW, good_udp, ihl=4), src=m)],
         "ip4-input/bad-header-length", "ip4-input/bad-header-length", (), None),
        ("header checksum wrong", lambda m, a: [to_gw(ipv4(a, OPEN_GW, good_udp, bad_checksum=True), src=m)],
         "ip4-input/bad-checksum", "ip4-input/bad-checksum", (), None),
        ("total length 12 (below the header)", lambda m, a: [to_gw(ipv4(a, OPEN_GW, good_udp, total=12), src=m)],
         "ip4-input/bad-length", "ip4-input/bad-length", (), None),
        ("total length 400, frame carries 36", lambda m, a: [to_gw(ipv4(a, OPEN_GW, good_udp, total=400), src=m)],
         "ip4-input/truncated", "ip4-input/truncated", (), None),
        ("TTL 0 to another network (answered: ICMP time exceeded)", lambda m, a: [to_gw(ipv4(a, fip, good_udp, ttl=0), src=m)],
         "ip4-rewrite/ttl-expired", "ip4-rewrite/ttl-expired", (), TIME_EXCEEDED),
        ("TTL 0 echo request to the gateway itself (answered: RFC 1812 5.3.1)",
         lambda m, a: [to_gw(ipv4(a, OPEN_GW, icmp(8), proto=1, ttl=0), src=m)],
         "icmp-echo/replies-sent", "icmp-echo/replies-sent", (), ECHO_REPLY),
        ("source 0.0.0.0", lambda m, a: [to_gw(ipv4("0.0.0.0", OPEN_GW, good_udp), src=m)],
         "ip4-input/source-unspecified", "ip4-input/source-unspecified", (), None),
        ("source 224.0.0.5 (multicast)", lambda m, a: [to_gw(ipv4("224.0.0.5", OPEN_GW, good_udp), src=m)],
         "ip4-input/source-multicast", "l2-input/spoofed-ip4", (), None),
        ("source 255.255.255.255", lambda m, a: [to_gw(ipv4("255.255.255.255", OPEN_GW, good_udp), src=m)],
         "ip4-input/source-multicast", "l2-input/spoofed-ip4", (), None),
        ("destination 239.1.2.3 to the gateway's MAC", lambda m, a: [to_gw(ipv4(a, "239.1.2.3", good_udp), src=m)],
         "ip4-input/destination-multicast", "ip4-input/destination-multicast", (), None),
        ("TTL 1 to another network (answered: ICMP time exceeded)", lambda m, a: [to_gw(ipv4(a, fip, good_udp, ttl=1), src=m)],
         "ip4-rewrite/ttl-expired", "ip4-rewrite/ttl-expired", (), TIME_EXCEEDED),
        ("destination without a route (answered: ICMP unreachable)", lambda m, a: [to_gw(ipv4(a, "192.0.2.77", good_udp), src=m)],
         "ip4-lookup/no-route", "ip4-lookup/no-route", (), UNREACHABLE),
        ("UDP to a closed port of the gateway (answered: port unreachable)", lambda m, a: [to_gw(ipv4(a, OPEN_GW, good_udp), src=m)],
         "ip4-local/udp-no-listener", "ip4-local/udp-no-listener", (), UNREACHABLE),
        ("UDP length field 7 (below the header), to the gateway: no ICMP",
         lambda m, a: [to_gw(ipv4(a, OPEN_GW, udp_len(7)), src=m)],
         "ip4-local/udp-bad-length", "ip4-local/udp-bad-length", ("ip4-icmp-error", "ip4-local/udp-no-listener"), None),
        ("UDP length field 200, IP payload 15, to the gateway: no ICMP",
         lambda m, a: [to_gw(ipv4(a, OPEN_GW, udp_len(200)), src=m)],
         "ip4-local/udp-bad-length", "ip4-local/udp-bad-length", ("ip4-icmp-error", "ip4-local/udp-no-listener"), None),
        ("fragment addressed to the gateway", lambda m, a: [to_gw(ipv4(a, OPEN_GW, good_udp, frag=0x2000), src=m)],
         "ip4-local/fragment", "ip4-local/fragment", (), None),
        ("unknown IP protocol 253 to the gateway", lambda m, a: [to_gw(ipv4(a, OPEN_GW, b"\0" * 8, proto=253), src=m)],
         "ip4-local/unknown-protocol", "ip4-local/unknown-protocol", (), UNREACHABLE),
        ("ICMP echo with a wrong checksum", lambda m, a: [to_gw(ipv4(a, OPEN_GW, icmp(8, bad_checksum=True), proto=1), src=m)],
         "icmp-echo/bad-checksum", "icmp-echo/bad-checksum", (), None),
        ("ICMP echo cut to 4 bytes", lambda m, a: [to_gw(ipv4(a, OPEN_GW, icmp(8)[:4], proto=1), src=m)],
         "icmp-echo/too-short", "icmp-echo/too-short", (), None),
        ("ICMP timestamp request (not echo)", lambda m, a: [to_gw(ipv4(a, OPEN_GW, icmp(13), proto=1), src=m)],
         "icmp-echo/not-echo-request", "icmp-echo/not-echo-request", (), None),
        ("ARP cut to 10 bytes", lambda m, a: [eth(BCAST, m, 0x0806, arp(1, m, a, bytes(6), OPEN_GW)[:10])],
         "arp-input/too-short", "l2-input/guard-malformed-arp", (), None),
        ("ARP hardware type 6", lambda m, a: [eth(BCAST, m, 0x0806, arp(1, m, a, bytes(6), OPEN_GW, htype=6))],
         "arp-input/not-ethernet-ipv4", "l2-input/guard-malformed-arp", (), None),
        ("ARP operation 9", lambda m, a: [eth(BCAST, m, 0x0806, arp(9, m, a, bytes(6), OPEN_GW))],
         "arp-input/bad-operation", "arp-input/bad-operation", (), None),
        ("ARP request from a sender outside the subnet", lambda m, a: [eth(BCAST, m, 0x0806, arp(1, m, "192.0.2.9", bytes(6), OPEN_GW))],
         "arp-input/sender-off-subnet", "l2-input/spoofed-arp", (), None),
        ("ARP claiming the gateway's own address", lambda m, a: [eth(BCAST, m, 0x0806, arp(1, m, OPEN_GW, bytes(6), OPEN_GW))],
         "arp-input/address-conflict", "l2-input/spoofed-arp", (), None),
        ("multicast source MAC", lambda m, a: [eth(gw, mac("01:00:5e:00:00:05"), 0x0800, ipv4(a, OPEN_GW, good_udp))],
         "l2-input/source-multicast", "l2-input/source-multicast", (), None),
        # The receiving veth's VLAN untagging (before packet taps) frees it: weftd never sees it.
        ("VLAN tag cut short (0x8100 + 2 bytes): dropped by the kernel first", lambda m, a: [eth(gw, m, 0x8100, b"\0\1")],
         None, None, (), None),
        ("someone else's source MAC", lambda m, a: [eth(gw, mac("02:00:00:00:66:66"), 0x0800, ipv4(a, OPEN_GW, good_udp))],
         "-", "l2-input/spoofed-mac", (), None),
        ("someone else's IPv4 source", lambda m, a: [eth(gw, m, 0x0800, ipv4("10.94.0.250", OPEN_GW, good_udp))],
         "-", "l2-input/spoofed-ip4", (), None),
        ("ARP with someone else's sender address", lambda m, a: [eth(BCAST, m, 0x0806, arp(1, m, "10.94.0.250", bytes(6), OPEN_GW))],
         "-", "l2-input/spoofed-arp", (), None),
        ("VLAN-tagged frame", lambda m, a: [eth(gw, m, 0x8100, b"\0\x05\x08\0" + ipv4(a, OPEN_GW, good_udp))],
         "-", "l2-input/guarded-vlan", (), None),
    ]

    def run_row(what, sender, frames, counter, quiet, back):
        before, back_before = node.error_counters(), _icmp_in(sender)
        _send(sender, frames)
        deadline = time.monotonic() + 3
        while True:
            after = node.error_counters()
            counted = counter and after.get(counter, 0) - before.get(counter, 0) >= N
            answered = back is None or _icmp_in(sender)[back] - back_before[back] >= N
            if (counted and answered) or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        time.sleep(0.1)
        after, back_after = node.error_counters(), _icmp_in(sender)
        came_back = {k: v - back_before[k] for k, v in back_after.items() if v != back_before[k]}
        if came_back != ({back: N} if back else {}):
            want = f"{N} x {back}" if back else "nothing"
            failures.append(f"{what} ({sender.name}): {want} should have come back to the pod, got {came_back}")
        delta = after.get(counter, 0) - before.get(counter, 0) if counter else 0
        others = {k: v - before.get(k, 0) for k, v in after.items() if k != counter and v != before.get(k, 0)}
        if counter and delta != N:
            failures.append(f"{what} ({sender.name}): {counter} moved by {delta}, expected {N}; others: {others}")
        if counter is None and others:
            failures.append(f"{what} ({sender.name}): expected to be dropped before weftd, but counters moved: {others}")
        loud = {k: v for k, v in others.items() if k.startswith(quiet)} if quiet else {}
        if loud:
            failures.append(f"{what} ({sender.name}): these must not move, but did: {loud}")
        return delta, others, came_back

    results, failures = [], []
    for what, build, open_counter, guarded_counter, quiet, back in rows:
        cells = []
        for sender, smac, sip, counter in ((o, om, oip, open_counter), (g, gm, gip, guarded_counter)):
            if counter == "-":
                cells.append(None)
                continue
            cells.append((counter, *run_row(what, sender, build(smac, sip), counter, quiet, back)))
        results.append((what, cells))
    # The honest pods were never cut off.
    wait_ping_ok(o, f.ip())
    wait_ping_ok(g, OPEN_GW)

    before = node.error_counters()
    api = _api_rows(node, o)
    after = node.error_counters()
    for what, status, want, err in api:
        if status != want:
            failures.append(f"API {what}: HTTP {status}, expected {want} ({err})")
    # Every refusal is counted under api/<reason> (weftctl show errors), like a dropped packet.
    expected: dict[str, int] = {}
    for _, status, _, _ in api:
        expected[f"api/{API_COUNTER[status]}"] = expected.get(f"api/{API_COUNTER[status]}", 0) + 1
    moved = {k: after[k] - before.get(k, 0) for k in after if k.startswith("api/") and after[k] != before.get(k, 0)}
    if moved != expected:
        failures.append(f"API refusal counters moved {moved}, expected {expected}")

    out = os.environ.get("WEFT_HOSTILE_TABLE")
    if out:
        Path(out).write_text(_table(results, api))
    print(_table(results, api))
    assert not failures, "\n".join(failures)


def _api_rows(node, o) -> list[tuple[str, int, int, str]]:
    """(request, status, expected status, error code: message) for each bad request."""
    # A second attach of an existing container interface must conflict.
    node.ctl("attach", "--container", "dup", "--netns", o.ns.path, "--ifname", "eth5", "--network", "open")
    cases = [
        ("malformed JSON body", "POST", "/v1/networks", '{"name": "x", "subnet": ', 400),
        ("JSON list instead of an object", "POST", "/v1/networks", '["a"]', 400),
        ("body not UTF-8", "POST", "/v1/networks", b"\xff\xfe\x00garbage", 400),
        ("missing field (subnet)", "POST", "/v1/networks", {"name": "nosubnet"}, 400),
        ("wrong type (subnet a number)", "POST", "/v1/networks", {"name": "n1", "subnet": 42}, 400),
        ("subnet not a CIDR", "POST", "/v1/networks", {"name": "n2", "subnet": "10.1.2.3/33"}, 400),
        ("network name with a slash", "POST", "/v1/networks", {"name": "a/b", "subnet": "10.93.0.0/24"}, 400),
        ("subnet overlapping another network", "POST", "/v1/networks", {"name": "n3", "subnet": "10.94.0.128/25"}, 409),
        ("VRF out of range", "POST", "/v1/networks", {"name": "n4", "subnet": "10.92.0.0/24", "vrf": 5000}, 400),
        ("attach to an unknown network", "POST", "/v1/attachments",
         {"containerId": "c1", "netns": o.ns.path, "network": "nope"}, 404),
        ("attach with a netns that does not exist", "POST", "/v1/attachments",
         {"containerId": "c2", "netns": "/var/run/netns/weft-none-xyz", "network": "open"}, 400),
        ("attach with a netns path outside /var/run/netns or /proc", "POST", "/v1/attachments",
         {"containerId": "c3", "netns": "/etc/passwd", "network": "open"}, 400),
        ("interface name longer than 15 bytes", "POST", "/v1/attachments",
         {"containerId": "c4", "netns": o.ns.path, "network": "open", "ifName": "a" * 16}, 400),
        ("container id with path characters", "POST", "/v1/attachments",
         {"containerId": "../../x", "netns": o.ns.path, "network": "open"}, 400),
        ("second attach of the same container interface", "POST", "/v1/attachments",
         {"containerId": "dup", "netns": o.ns.path, "network": "open", "ifName": "eth5"}, 409),
        ("bandwidth rate 0", "POST", "/v1/attachments",
         {"containerId": "c5", "netns": o.ns.path, "network": "open", "ifName": "eth1",
          "bandwidth": {"ingressRate": 0, "ingressBurst": 1000}}, 400),
        ("route with a bad prefix", "POST", "/v1/routes", {"prefix": "10.0.0.0/40", "nextHop": "10.94.0.9"}, 400),
        ("unknown endpoint", "GET", "/v1/no-such-thing", None, 404),
        ("method not allowed", "PUT", "/v1/networks", {"name": "x"}, 405),
    ]
    rows = []
    for what, method, path, body, want in cases:
        r = node.http(method, path, body)
        try:
            err = r.json().get("error", {})
            text = f"{err.get('code')}: {err.get('message')}"
        except (ValueError, UnicodeDecodeError, AttributeError):
            text = r.body[:200].decode(errors="replace")
        rows.append((what, r.status, text, want))
    # Raw requests: an announced body over the limit (answered before it is sent), and a body
    # that stalls (weftd's request time limit is 2 s in this test).
    head = b"POST /v1/networks HTTP/1.1\r\nHost: weft\r\nContent-Type: application/json\r\n"
    rows.append(("body of 2 MB announced (limit 1 MiB)",
                 *_raw_status(node, head + b"Content-Length: 2000000\r\n\r\n{"), 413))
    rows.append(("request body stalls (2 s limit here)",
                 *_raw_status(node, head + b"Content-Length: 100\r\n\r\n{\"name\": "), 408))
    return [(what, status, want, text) for what, status, text, want in rows]


def _raw_status(node, request: bytes) -> tuple[int, str]:
    """Sends bytes as they are, reads the answer until weftd closes: (status, "code: message")."""
    raw, _ = raw_request(node.socket, request)
    status, err = status_and_error(raw)
    return status, f"{err.get('code')}: {err.get('message')}"


def _table(results, api) -> str:
    def cells(c, other_pod=None):
        if c is None:
            return "not sent", "", ""
        counter, delta, others, came_back = c
        where = f"`{counter}` +{delta}" if counter else "none (the kernel drops it)"
        if other_pod is not None and other_pod[0] != counter:
            where += " (differs: the guard drops it first)"
        other = ", ".join(f"{k} +{v}" for k, v in sorted(others.items())) or "-"
        back = ", ".join(f"{ICMP_IN_NAMES.get(k, k)} x{v}" for k, v in sorted(came_back.items())) or "nothing"
        return where, other, back
    lines = [f"| # | hostile frame ({N} sent) | pod without guard: counter | others that moved | came back "
             f"| guarded pod (default): counter | others that moved | came back |",
             "|---|---|---|---|---|---|---|---|"]
    for i, (what, (unguarded, guarded)) in enumerate(results, 1):
        lines.append(f"| {i} | {what} | " + " | ".join(cells(unguarded)) + " | "
                     + " | ".join(cells(guarded, unguarded)) + " |")
    lines += ["", "| # | bad API request | HTTP status | counter | error code: message |", "|---|---|---|---|---|"]
    for i, (what, status, want, text) in enumerate(api, 1):
        mark = "" if status == want else f" (expected {want})"
        counter = f"`api/{API_COUNTER[status]}`" if status in API_COUNTER else "-"
        lines.append(f"| {i} | {what} | {status}{mark} | {counter} | {text.replace('|', '/')} |")
    return "\n".join(lines) + "\n"
