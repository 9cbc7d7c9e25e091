"""The API rejects bad input with JSON errors and the right status, leaving nothing behind."""

import json

from weftlib import run, weft_binary


def _error(r, status, field=None, code=None):
    assert r.status == status, f"expected HTTP {status}, got {r}"
    try:
        body = r.json()
    except (ValueError, UnicodeDecodeError):
        raise AssertionError(f"error body is not JSON: {r}") from None
    err = body.get("error") if isinstance(body, dict) else None
    assert isinstance(err, dict) and err.get("code") and err.get("message"), (
        f"error body lacks error.code/message: {body}")
    if field is not None:
        assert err.get("field") == field, f"expected field {field!r}: {body}"
    if code is not None:
        assert err.get("code") == code, f"expected code {code!r}: {body}"
    return err


def _snapshot(node, *containers):
    return (node.node.link_names(), len(node.attachments()),
            [c.ns.link_names() for c in containers])


def test_health_via_curl(node):
    p = run(["curl", "-sS", "--max-time", "5", "--unix-socket", node.socket, "-o", "/dev/null",
             "-w", "%{http_code}", "http://localhost/v1/health"])
    assert p.stdout.strip() == "200", f"/v1/health -> {p.stdout} {p.stderr}"


def test_malformed_json(node):
    r = node.http("POST", "/v1/networks", '{"name": "x", "subnet": ')
    _error(r, 400)
    r = node.http("POST", "/v1/attachments", "not json at all")
    _error(r, 400)
    r = node.http("POST", "/v1/networks", '["a", "list"]')
    _error(r, 400)
    assert node.http("GET", "/v1/networks/x").status == 404, "malformed request created a network"


def test_missing_field(node):
    r = node.http("POST", "/v1/networks", {"subnet": "10.90.5.0/24"})
    _error(r, 400, field="name")
    r = node.http("POST", "/v1/networks", {"name": "nosubnet"})
    _error(r, 400, field="subnet")


def test_unknown_route(node):
    r = node.http("GET", "/v1/no-such-thing")
    assert r.status == 404, r
    r = node.http("GET", "/v2/networks")
    assert r.status == 404, r


def test_unknown_network(node, container):
    a = container("a")
    before = _snapshot(node, a)
    r = node.http("GET", "/v1/networks/nope")
    _error(r, 404)
    r = node.http("POST", "/v1/attachments",
                  {"containerId": a.cid, "netns": a.ns.path, "ifName": "eth0", "network": "nope"})
    _error(r, 404)
    p = node.ctl("attach", "--container", a.cid, "--netns", a.ns.path, "--network", "nope",
                 check=False)
    assert p.returncode == 1 and p.stderr.startswith("weftctl: "), (p.returncode, p.stderr)
    assert _snapshot(node, a) == before, "failed attach left something behind"


def test_missing_netns(node, container):
    node.create_network("net", "10.90.1.0/24")
    a = container("a")  # only for its id
    before = _snapshot(node)
    ghost = f"/var/run/netns/{a.name}-does-not-exist"
    r = node.http("POST", "/v1/attachments",
                  {"containerId": a.cid, "netns": ghost, "ifName": "eth0", "network": "net"})
    _error(r, 400, field="netns")
    p = node.ctl("attach", "--container", a.cid, "--netns", ghost, "--network", "net", check=False)
    assert p.returncode == 1, f"weftctl attach to missing netns exited {p.returncode}: {p.stderr}"
    assert _snapshot(node) == before, f"left behind: {_snapshot(node)} vs {before}"
    assert node.attachment(a.cid) is None


def test_duplicate_attach(node, container):
    node.create_network("net", "10.90.2.0/24")
    a, b = container("a"), container("b")
    node.attach(a, "net")
    before = _snapshot(node, a, b)
    r = node.http("POST", "/v1/attachments",
                  {"containerId": a.cid, "netns": a.ns.path, "ifName": "eth0", "network": "net"})
    _error(r, 409)
    # same containerId+ifName even from another netns is still a duplicate
    p = node.ctl("attach", "--container", a.cid, "--netns", b.ns.path, "--network", "net",
                 check=False)
    assert p.returncode == 1, f"duplicate attach via weftctl exited {p.returncode}"
    assert _snapshot(node, a, b) == before, "duplicate attach left something behind"
    # a second interface of the same container is fine
    att = node.attach(a, "net", ifname="eth1")
    assert att["ifName"] == "eth1" and "eth1" in a.ns.link_names()


def test_subnet_exhausted(node, container):
    node.create_network("tiny", "10.90.3.0/30")  # only .2 is leasable
    a, b = container("a"), container("b")
    att = node.attach(a, "tiny")
    assert att["address"] == "10.90.3.2/30", att
    before = _snapshot(node, a, b)
    r = node.http("POST", "/v1/attachments",
                  {"containerId": b.cid, "netns": b.ns.path, "ifName": "eth0", "network": "tiny"})
    _error(r, 409, code="subnet_exhausted")
    p = node.ctl("attach", "--container", b.cid, "--netns", b.ns.path, "--network", "tiny",
                 check=False)
    assert p.returncode == 1, f"weftctl exited {p.returncode}"
    assert _snapshot(node, a, b) == before, f"left behind: {_snapshot(node, a, b)} vs {before}"
    assert node.attachment(b.cid) is None


def test_unreachable_socket(weft_bins, tmp_path):
    p = run([str(weft_binary("weftctl")), "--socket", str(tmp_path / "none.sock"),
             "show", "interfaces"], check=False)
    assert p.returncode == 2, f"unreachable socket: exit {p.returncode} ({p.stderr.strip()})"
