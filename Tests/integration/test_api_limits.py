"""Control socket access (docs/architecture.md): body limits, the request timeout and peer
credentials, each refusal a JSON error or a closed connection; afterwards the API and
forwarding work as before."""

import os
import subprocess
import sys

import pytest

from weftlib import raw_request, status_and_error, wait_ping_ok

NOBODY = 65534
# A uid/gid pair with no account and no group: neither root, weftd, nor in any api_group.
STRANGER = 65533

_CLIENT = r"""
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(5)
try:
    s.connect(sys.argv[1])
except OSError as e:
    print("connect-error", e.errno); sys.exit(0)
try:
    s.sendall(b"GET /v1/health HTTP/1.1\r\nHost: weft\r\nConnection: close\r\n\r\n")
except OSError:
    pass  # refused before the request was read: the answer may still be there
data, error = b"", None
try:
    while True:
        chunk = s.recv(65536)
        if not chunk: break
        data += chunk
except OSError as e:
    error = e.errno  # ECONNRESET after the answer: weftd closed without reading the request
print(data.decode(errors="replace") if data else "read-error %s" % error)
"""


def _as_user(sock_path: str, uid: int, gid: int) -> str:
    """GET /v1/health as uid/gid (no supplementary groups); what the client saw."""
    # The system interpreter: one under /root (pyenv) is not executable by other users.
    python = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
    p = subprocess.run([python, "-c", _CLIENT, sock_path], user=uid, group=gid, extra_groups=[],
                       capture_output=True, timeout=20, cwd="/")
    assert p.returncode == 0, p.stderr.decode()
    return p.stdout.decode()


def _open_socket_dir(node) -> None:
    # pytest's temp dir is 0700; let other users reach the socket, so the socket's own mode
    # and weftd's peer check are what decide.
    os.chmod(node.tmpdir, 0o755)


def test_oversized_body_is_413_with_the_limit(node):
    raw, _ = raw_request(node.socket, b"POST /v1/networks HTTP/1.1\r\nHost: weft\r\nContent-Type: application/json\r\n"
                               b"Content-Length: 2000000\r\n\r\n{")
    status, err = status_and_error(raw)
    assert status == 413, raw[:300]
    assert err["code"] == "body_too_large" and "1048576 bytes" in err["message"], err

    # Streamed past the limit without announcing it (chunked): refused once over.
    refused = node.error_counters()["api/body-too-large"]
    chunk = b"x" * 65536
    body = b"".join(b"%x\r\n" % len(chunk) + chunk + b"\r\n" for _ in range(20))
    try:
        raw, _ = raw_request(node.socket, b"POST /v1/attachments HTTP/1.1\r\nHost: weft\r\nTransfer-Encoding: chunked\r\n\r\n"
                                   + body + b"0\r\n\r\n")
        status, err = status_and_error(raw)
        assert status == 413 and err["code"] == "body_too_large", raw[:300]
    except (BrokenPipeError, ConnectionResetError):
        pass  # weftd answered and closed while the rest was still being sent: the counter says
    assert node.error_counters()["api/body-too-large"] == refused + 1, "the chunked body was not refused as too large"

    # The bulk route path takes more than the general limit (up to api_max_body_bytes).
    pad = " " * (2 << 20)
    r = node.http("POST", "/v1/routes/bulk", '{"routes": [], "padding": "' + pad + '"}', timeout=30)
    # read whole and decoded: refused only for holding no routes, not for its size
    assert r.status == 400 and r.json()["error"]["field"] == "routes", r
    assert node.http("GET", "/v1/health").status == 200
    assert "body over 1048576 bytes refused" in node.log_tail(200)


@pytest.mark.weftd_args("--api-request-timeout", "1")
def test_incomplete_request_is_closed_after_the_timeout(node):
    raw, seconds = raw_request(node.socket, b"POST /v1/networks HTTP/1.1\r\nHost: weft\r\nContent-Length: 50\r\n\r\n{\"na")
    status, err = status_and_error(raw)
    assert status == 408 and err["code"] == "request_timeout", raw[:300]
    assert 0.8 <= seconds < 5, f"closed after {seconds:.2f} s with a 1 s timeout"

    # Half a request line, then silence: closed too.
    raw, seconds = raw_request(node.socket, b"GET /v1/hea")
    assert raw.startswith(b"HTTP/1.1 408"), raw[:300]
    assert seconds < 5
    # A request sent in time is answered.
    assert node.http("GET", "/v1/health").status == 200


def test_non_root_peer_is_refused(node, container):
    _open_socket_dir(node)
    # Socket mode 0600: the kernel refuses the connect itself.
    seen = _as_user(node.socket, NOBODY, NOBODY)
    assert seen.startswith("connect-error 13"), seen

    # Mode loosened behind weftd's back: weftd still refuses the peer (SO_PEERCRED).
    os.chmod(node.socket, 0o666)
    seen = _as_user(node.socket, NOBODY, NOBODY)
    assert seen.startswith("HTTP/1.1 403"), seen
    assert '"code":"forbidden"' in seen and "uid 65534" in seen, seen
    assert "API connection refused: uid 65534" in node.log_tail(200)

    # Root still configures, and forwarding works.
    node.create_network("net", "10.93.0.0/24")
    a, b = container("a"), container("b")
    node.attach(a, "net")
    node.attach(b, "net")
    wait_ping_ok(a, b.ip())


@pytest.mark.weftd_args("--api-group", str(NOBODY))
def test_api_group_members_are_allowed(node):
    _open_socket_dir(node)
    st = os.stat(node.socket)
    assert oct(st.st_mode & 0o777) == "0o660" and st.st_gid == NOBODY, (oct(st.st_mode), st.st_gid)
    # A member of the group (primary gid) gets answers.
    seen = _as_user(node.socket, NOBODY, NOBODY)
    assert seen.startswith("HTTP/1.1 200"), seen
    # Anyone else: no connect (0660), and with the mode loosened, 403 from weftd.
    assert _as_user(node.socket, STRANGER, STRANGER).startswith("connect-error 13")
    os.chmod(node.socket, 0o666)
    seen = _as_user(node.socket, STRANGER, STRANGER)
    assert seen.startswith("HTTP/1.1 403") and "api_group" in seen, seen
    assert node.http("GET", "/v1/health").status == 200
