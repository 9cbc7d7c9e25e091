"""A paced, sequence-numbered UDP stream for loss accounting (runs inside namespaces).

recv: python3 seqstream.py recv BIND_IP PORT OUT
    records which sequence numbers arrived; on SIGTERM writes OUT (one byte per
    sequence number: 1 = received) and exits.
send: python3 seqstream.py send DST_IP PORT RATE SECONDS OUT
    sends datagram i at t0 + i/RATE (absolute schedule: a late wake-up sends the
    backlog, so the count does not drift), each carrying its 8-byte sequence number;
    stops after SECONDS or on SIGTERM and writes OUT: the CLOCK_MONOTONIC send time
    of every datagram as float64 (same clock in every namespace). A send error
    (e.g. no neighbour while the dataplane restarts) still counts as sent: it is lost.
"""

import array
import signal
import socket
import struct
import sys
import time

SEQ = struct.Struct("!Q")


class _Stop(Exception):
    pass


def _on_term(signum, frame):
    raise _Stop()


def recv(bind_ip: str, port: int, out: str) -> None:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    s.bind((bind_ip, port))
    seen = bytearray(1 << 20)
    print("ready", flush=True)
    try:
        while True:
            data = s.recv(2048)
            if len(data) < SEQ.size:
                continue
            (i,) = SEQ.unpack_from(data)
            if i >= len(seen):
                seen.extend(bytes(max(i + 1 - len(seen), len(seen))))
            seen[i] = 1
    except _Stop:
        pass
    with open(out, "wb") as f:
        f.write(seen)


def send(dst_ip: str, port: int, rate: float, seconds: float, out: str) -> None:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setblocking(False)
    times = array.array("d")
    pad = bytes(56)
    t0 = time.monotonic()
    end = t0 + seconds
    i = 0
    try:
        while True:
            now = time.monotonic()
            if now >= end:
                break
            due = int((now - t0) * rate) + 1
            while i < due:
                times.append(time.monotonic())
                try:
                    s.sendto(SEQ.pack(i) + pad, (dst_ip, port))
                except OSError:
                    pass  # counted as sent, shows up as lost
                i += 1
            time.sleep(min(0.002, max(0.0, t0 + i / rate - time.monotonic())))
    except _Stop:
        pass
    with open(out, "wb") as f:
        times.tofile(f)


def main() -> None:
    signal.signal(signal.SIGTERM, _on_term)
    signal.signal(signal.SIGINT, _on_term)
    if sys.argv[1] == "recv":
        recv(sys.argv[2], int(sys.argv[3]), sys.argv[4])
    elif sys.argv[1] == "send":
        send(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5]), sys.argv[6])
    else:
        sys.exit(f"usage: {sys.argv[0]} recv|send ...")


if __name__ == "__main__":
    main()
