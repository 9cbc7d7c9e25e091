"""Many concurrent UDP flows for NAT tests (runs inside namespaces).

server: python3 udpflows.py server HOST PORT SECONDS
    echoes every datagram back; after SECONDS of silence (or total) prints
    {"datagrams": N, "peers": [[addr, port], ...]} (distinct peers) and exits.
client: python3 udpflows.py client SERVER PORT SRC_IP FIRST_PORT COUNT
    binds COUNT sockets to SRC_IP:FIRST_PORT.. (one flow each), sends one
    datagram from each (again for the unanswered, up to 6 rounds), prints
    {"sent": N, "echoed": M, "rounds": R}.
"""

import json
import resource
import selectors
import socket
import sys
import time


def server(host: str, port: int, seconds: float) -> None:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    s.bind((host, port))
    s.settimeout(1.0)
    print("ready", flush=True)
    peers, n = set(), 0
    deadline = time.time() + seconds
    idle_since = time.time()
    while time.time() < deadline:
        try:
            data, peer = s.recvfrom(2048)
        except socket.timeout:
            if peers and time.time() - idle_since > 8:
                break
            continue
        idle_since = time.time()
        n += 1
        peers.add(peer)
        s.sendto(data, peer)
    print(json.dumps({"datagrams": n, "peers": sorted([list(p) for p in peers])}), flush=True)


def client(server_ip: str, port: int, src: str, first: int, count: int) -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (count + 256, count + 256))
    socks = []
    sel = selectors.DefaultSelector()
    for i in range(count):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((src, first + i))
        s.setblocking(False)
        socks.append(s)
        sel.register(s, selectors.EVENT_READ)
    # UDP may be dropped on a loaded machine (rings, socket buffers): like any UDP
    # application, resend what got no answer, a few rounds. Each flow keeps its port.
    payload = {i: f"{src}:{first + i}".encode() for i in range(count)}
    echoed = set()
    rounds = 0
    while len(echoed) < count and rounds < 6:
        rounds += 1
        for n, i in enumerate(i for i in range(count) if payload[i] not in echoed):
            socks[i].sendto(payload[i], (server_ip, port))
            if n % 200 == 199:
                time.sleep(0.002)   # a steady stream, not one 10k-frame burst into the rings
        deadline = time.time() + 3
        while len(echoed) < count and time.time() < deadline:
            for key, _ in sel.select(timeout=0.5):
                try:
                    data, _ = key.fileobj.recvfrom(2048)
                except BlockingIOError:
                    continue
                echoed.add(data)
    print(json.dumps({"sent": count, "echoed": len(echoed), "rounds": rounds}), flush=True)


if __name__ == "__main__":
    if sys.argv[1] == "server":
        server(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]))
    else:
        client(sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5]), int(sys.argv[6]))
