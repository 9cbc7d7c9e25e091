"""Tiny HTTP server for NAT tests (runs inside a namespace): every GET is answered
with the client's address as the server saw it, "ADDR:PORT\n".

usage: python3 httpecho.py HOST PORT      (prints "ready" once listening)
"""

import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Echo(BaseHTTPRequestHandler):
    def do_GET(self):
        body = f"{self.client_address[0]}:{self.client_address[1]}\n".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def main() -> None:
    server = ThreadingHTTPServer((sys.argv[1], int(sys.argv[2])), Echo)
    print("ready", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
