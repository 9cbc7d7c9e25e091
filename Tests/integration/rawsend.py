"""Send raw Ethernet frames out of an interface (runs inside a namespace).

python3 rawsend.py IFNAME COUNT HEXFRAME...   sends each frame COUNT times, in order.
Frames go out exactly as given (no padding, no checksum fixing): for hostile-input tests.
"""

import socket
import sys


def main() -> None:
    ifname, count, frames = sys.argv[1], int(sys.argv[2]), [bytes.fromhex(h) for h in sys.argv[3:]]
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((ifname, 0))
    for _ in range(count):
        for f in frames:
            s.send(f)
    s.close()


if __name__ == "__main__":
    main()
