"""TCP transfer helper for test_tcp_100mb (runs inside container namespaces).

server: python3 tcpxfer.py server HOST PORT   -> prints "ready", then after one connection
        reaches EOF prints {"bytes": N, "sha256": HEX} and sends the hex digest back.
client: python3 tcpxfer.py client HOST PORT MB -> sends MB MiB of random bytes, half-closes,
        reads the server's digest, prints {"bytes", "sha256", "peer_sha256", "seconds"}.
"""

import hashlib
import json
import os
import socket
import sys
import time

CHUNK = 1 << 20


def server(host: str, port: int) -> None:
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((host, port))
    ls.listen(1)
    print("ready", flush=True)
    ls.settimeout(60)
    conn, _ = ls.accept()
    conn.settimeout(60)
    h = hashlib.sha256()
    n = 0
    while True:
        data = conn.recv(CHUNK)
        if not data:
            break
        h.update(data)
        n += len(data)
    digest = h.hexdigest()
    print(json.dumps({"bytes": n, "sha256": digest}), flush=True)
    conn.sendall(digest.encode())
    conn.close()
    ls.close()


def client(host: str, port: int, mb: int) -> None:
    # All random bytes generated up front so the timing measures the network, not urandom.
    data = os.urandom(mb * CHUNK)
    digest = hashlib.sha256(data).hexdigest()
    s = socket.create_connection((host, port), timeout=30)
    s.settimeout(60)
    view = memoryview(data)
    t0 = time.monotonic()
    for off in range(0, len(data), CHUNK):
        s.sendall(view[off:off + CHUNK])
    s.shutdown(socket.SHUT_WR)
    peer = b""
    while True:
        d = s.recv(256)
        if not d:
            break
        peer += d
    secs = time.monotonic() - t0
    s.close()
    print(json.dumps({"bytes": mb * CHUNK, "sha256": digest,
                      "peer_sha256": peer.decode(), "seconds": secs}), flush=True)


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "server":
        server(sys.argv[2], int(sys.argv[3]))
    else:
        client(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
