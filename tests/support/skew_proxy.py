"""An HTTP proxy in front of moto that shifts the Date header of every answer.

Usage: skew_proxy.py PORT_FILE UPSTREAM_PORT OFFSET_SECONDS
Stands in for "AWS's clock differs from this machine's" in the clock-check tests. The Host
header and body are passed through unchanged, so moto's routing and signatures still work.
"""
import http.client
import os
import sys
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

port_file, upstream, offset = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
HOP = {"connection", "keep-alive", "transfer-encoding", "date", "server", "content-length"}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _forward(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        conn = http.client.HTTPConnection("127.0.0.1", upstream, timeout=30)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("connection",)}
        conn.request(self.command, self.path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        self.send_response_only(resp.status, resp.reason)
        for k, v in resp.getheaders():
            if k.lower() not in HOP:
                self.send_header(k, v)
        shifted = datetime.now(timezone.utc) + timedelta(seconds=offset)
        self.send_header("Date", format_datetime(shifted, usegmt=True))
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        conn.close()

    do_GET = do_POST = do_PUT = do_DELETE = _forward


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
with open(port_file + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
os.rename(port_file + ".tmp", port_file)
server.serve_forever()
