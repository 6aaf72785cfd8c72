"""A small IMDSv2 for the tests: enforces the session token, serves one role's credentials.

Usage: imds.py PORT_FILE LOG_FILE ACCESS_KEY SECRET_KEY SESSION_TOKEN REGION
Binds 127.0.0.1 on a free port and writes the port to PORT_FILE. Every request is logged as
"METHOD PATH token=yes|no" so tests can assert that IMDSv2 (token first) was used.
"""
import json
import sys
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

port_file, log_file, access_key, secret_key, session_token, region = sys.argv[1:7]
TOKEN = "ambake-test-token"
ROLE = "ambake-test-role"


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def _log(self, token_ok):
        with open(log_file, "a") as f:
            f.write(f"{self.command} {self.path} token={'yes' if token_ok else 'no'}\n")

    def _send(self, code, body, headers=()):
        data = body.encode()
        self.send_response(code)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_PUT(self):
        self._log(False)
        if self.path == "/latest/api/token" and self.headers.get("X-aws-ec2-metadata-token-ttl-seconds"):
            ttl = self.headers.get("X-aws-ec2-metadata-token-ttl-seconds")
            self._send(200, TOKEN, [("X-aws-ec2-metadata-token-ttl-seconds", ttl)])
        else:
            self._send(400, "bad token request")

    def do_GET(self):
        if self.path == "/ecs-creds":
            # The ECS container-credentials endpoint (AWS_CONTAINER_CREDENTIALS_FULL_URI).
            self._log(True)
            now = datetime.now(timezone.utc)
            self._send(200, json.dumps({"AccessKeyId": access_key, "SecretAccessKey": secret_key, "Token": session_token,
                                        "Expiration": (now + timedelta(hours=6)).strftime("%Y-%m-%dT%H:%M:%SZ")}))
            return
        ok = self.headers.get("X-aws-ec2-metadata-token") == TOKEN
        self._log(ok)
        if not ok:
            self._send(401, "IMDSv2 token required")
            return
        now = datetime.now(timezone.utc)
        if self.path == "/latest/meta-data/iam/security-credentials/":
            self._send(200, ROLE)
        elif self.path == f"/latest/meta-data/iam/security-credentials/{ROLE}":
            self._send(200, json.dumps({
                "Code": "Success",
                "LastUpdated": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "Type": "AWS-HMAC",
                "AccessKeyId": access_key,
                "SecretAccessKey": secret_key,
                "Token": session_token,
                "Expiration": (now + timedelta(hours=6)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            }))
        elif self.path == "/latest/meta-data/placement/region":
            self._send(200, region)
        else:
            self._send(404, "not found")


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
with open(port_file + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
import os
os.rename(port_file + ".tmp", port_file)
server.serve_forever()
