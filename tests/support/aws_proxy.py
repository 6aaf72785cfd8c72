"""An HTTP proxy in front of moto that makes it behave more like AWS, for the tests.

Usage: aws_proxy.py PORT_FILE UPSTREAM_PORT [options]
  --date-offset S     shift the Date header of every answer by S seconds (clock-skew tests)
  --slow N            the first N DescribeInstances / DescribeImages answers after each state
                      change show the previous state (pending, stopping, shutting-down), so
                      waiters really wait (and the snapshots of a held-back AMI show
                      matching DescribeSnapshots progress)
  --hold-after K      hold request K+1 (counting the program's AWS calls) until the file
                      DIR/release exists; DIR/held is written while it is held
  --fail ACTION:CODE:N[:MESSAGE]  answer the first N calls of ACTION with an EC2 error CODE
                      (HTTP 400) and MESSAGE
  --answer ACTION:FILE  answer every call of ACTION with FILE's content (HTTP 200; the request
                      goes to answered.log), for actions
                      moto does not implement (the feature is then "emulator-limited")
  --chaos SEED:THROTTLE:SERVER:RESET  answer a random share of all calls (seeded, so a run can
                      be repeated) with RequestLimitExceeded (HTTP 503), InternalError (HTTP
                      500) or a dropped connection; the three are fractions, e.g. 1:0.2:0.05:0
  --fail-from K:CODE  answer every call from the K-th on (1-based, counting the program's calls)
                      with CODE (HTTP 400): everything after a point fails
  --slow-seconds RUN:IMAGE:COPY  state changes take real time (benchmarks): an instance
                      launched, stopped or terminated shows its old state for RUN seconds, a
                      new AMI stays pending for IMAGE seconds, a copy for COPY seconds. Each
                      change's first answer showing the new state is logged to DIR/slow.log as
                      "kind id late_by_seconds" (how long after the change the tool noticed it)
  --dir DIR           where held/release/log files live
Every request is logged to DIR/proxy.log as "seq action region", and once answered to
DIR/timing.log as "seq start end" (time.monotonic(), the clock of CLOCK_MONOTONIC, seconds);
every injected error to
DIR/injected.log as "seq action code".
(What moto does not do of tagging at creation, tests/support/moto_server.py does inside moto.)
The Host header and body pass through unchanged, so moto's routing and signatures still work.
"""
import argparse
import http.client
import os
import re
import socket
import threading
import time
import urllib.parse
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ap = argparse.ArgumentParser()
ap.add_argument("port_file")
ap.add_argument("upstream", type=int)
ap.add_argument("--date-offset", type=int, default=0)
ap.add_argument("--slow", type=int, default=0)
ap.add_argument("--hold-after", type=int, default=-1)
ap.add_argument("--fail", action="append", default=[])
ap.add_argument("--answer", action="append", default=[])
ap.add_argument("--chaos", default="")
ap.add_argument("--fail-from", default="")
ap.add_argument("--slow-seconds", default="")
ap.add_argument("--dir", default=".")
args = ap.parse_args()

HOP = {"connection", "keep-alive", "transfer-encoding", "date", "server", "content-length"}
lock = threading.Lock()
seq = 0
slow_left = {}  # action -> remaining slow answers since the last state change
fails = {}
for f in args.fail:
    action, code, n, *msg = f.split(":", 3)
    fails[action] = [code, int(n), msg[0] if msg else "injected by the test proxy"]
import random
chaos = None
if args.chaos:
    seed, throttle, server, reset = args.chaos.split(":")
    chaos = (random.Random(int(seed)), float(throttle), float(server), float(reset))
fail_from = None
if args.fail_from:
    k, code = args.fail_from.split(":", 1)
    fail_from = (int(k), code)
answers = {}
for a in args.answer:
    action, path = a.split(":", 1)
    answers[action] = open(path, "rb").read()
CHANGES = {"RunInstances": "DescribeInstances", "StopInstances": "DescribeInstances", "TerminateInstances": "DescribeInstances",
           "CreateImage": "DescribeImages", "CopyImage": "DescribeImages", "CreateFleet": "DescribeInstances"}
BACK = {"running": "pending", "stopped": "stopping", "terminated": "shutting-down"}

# --slow-seconds: resource id -> [changed_at, delay, kind, noticed]
timed = {}
slow_secs = None
if args.slow_seconds:
    slow_secs = [float(x) for x in args.slow_seconds.split(":")]


def note_change(action, body, data):
    """Starts the clock of each resource the call changed."""
    run, image, copy = slow_secs
    now = time.monotonic()
    text = data.decode("utf-8", "replace")
    if action in ("RunInstances", "CreateFleet"):
        ids = re.findall(r"<instanceId>(i-[0-9a-f]+)</instanceId>", text) or re.findall(r"<item>(i-[0-9a-f]+)</item>", text)
        kind = "instance-running"
    elif action in ("StopInstances", "TerminateInstances"):
        q = urllib.parse.parse_qs(body.decode("utf-8", "replace"))
        ids = [v[0] for k, v in q.items() if k.startswith("InstanceId")]
        kind = "instance-stopped" if action == "StopInstances" else "instance-terminated"
    elif action in ("CreateImage", "CopyImage"):
        ids = re.findall(r"<imageId>(ami-[0-9a-f]+)</imageId>", text)
        kind = "image-available" if action == "CreateImage" else "copy-available"
    else:
        return
    delay = image if kind == "image-available" else copy if kind == "copy-available" else run
    with lock:
        for i in ids:
            timed[i] = [now, delay, kind, False]


def hold_back(action, data):
    """Shows the old state of every resource whose change has not had its time yet; logs the
    first answer that shows a change done."""
    text = data.decode("utf-8", "replace")
    now = time.monotonic()
    id_tag, state_re = (("instanceId", r"(<instanceState>\s*<code>\d+</code>\s*<name>)([a-z-]+)(</name>)")
                        if action == "DescribeInstances" else
                        ("imageId", r"(<imageState>)([a-z]+)(</imageState>)"))
    out, pos = [], 0
    for m in re.finditer(r"<%s>([^<]+)</%s>" % (id_tag, id_tag), text):
        rid = m.group(1)
        with lock:
            t = timed.get(rid)
        if not t:
            continue
        s = re.compile(state_re).search(text, m.end())
        if not s:
            continue
        new = s.group(2)
        if now < t[0] + t[1]:
            old = BACK.get(new) if action == "DescribeInstances" else ("pending" if new == "available" else None)
            if old:
                out.append(text[pos:s.start(2)] + old)
                pos = s.end(2)
        elif not t[3]:
            with lock:
                t[3] = True
            with open(os.path.join(args.dir, "slow.log"), "a") as f:
                f.write(f"{t[2]} {rid} {now - (t[0] + t[1]):.3f}\n")
    out.append(text[pos:])
    return "".join(out).encode()


def snapshot_progress(data):
    """While an image is held back as pending, its snapshots are not 100% done either: the
    progress shown is the time (--slow-seconds) or the answers (--slow) it has had so far."""
    pct = None
    now = time.monotonic()
    with lock:
        if slow_secs:
            left = [(now - t[0]) / t[1] for t in timed.values()
                    if t[2] in ("image-available", "copy-available") and t[1] > 0 and now < t[0] + t[1]]
            if left:
                pct = int(100 * min(left))
        elif args.slow and slow_left.get("DescribeImages", 0) > 0:
            pct = int(100 * (args.slow - slow_left["DescribeImages"]) / args.slow)
    if pct is None:
        return data
    return re.sub(rb"<progress>100%</progress>", b"<progress>%d%%</progress>" % pct, data)


def action_of(body, headers):
    q = urllib.parse.parse_qs(body.decode("utf-8", "replace"))
    a = q.get("Action", [""])[0]
    if not a:
        # JSON protocols (SSM, Secrets Manager): the action is the target's last part.
        a = headers.get("X-Amz-Target", "").rsplit(".", 1)[-1]
    auth = headers.get("Authorization", "")
    m = re.search(r"Credential=[^/]+/\d+/([^/]+)/([^/]+)/", auth)
    return a, (m.group(1) if m else "?")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self):
        super().setup()
        # The head and the body of an answer go out in two writes: without TCP_NODELAY the
        # second waits for the client's delayed ACK (~40 ms per call), which is the proxy's
        # cost, not the tool's.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, *a):
        pass

    def _error(self, n, status, code, message):
        """An EC2 error answer."""
        data = (f"<?xml version=\"1.0\"?><Response><Errors><Error><Code>{code}</Code>"
                f"<Message>{message}</Message></Error></Errors>"
                f"<RequestID>proxy-{n}</RequestID></Response>").encode()
        self.send_response_only(status)
        self.send_header("Content-Type", "text/xml")
        self.send_header("x-amzn-RequestId", f"proxy-{n}")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _forward(self):
        global seq
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        action, region = action_of(body, self.headers)
        with lock:
            seq += 1
            n = seq
            self.seq_no = n
            with open(os.path.join(args.dir, "proxy.log"), "a") as f:
                f.write(f"{n} {action} {region}\n")
        if args.hold_after >= 0 and n == args.hold_after + 1:
            open(os.path.join(args.dir, "held"), "w").close()
            while not os.path.exists(os.path.join(args.dir, "release")):
                time.sleep(0.02)
        injected = None
        if fail_from and n >= fail_from[0]:
            injected = (fail_from[1], 400)
        elif chaos:
            with lock:
                r = chaos[0].random()
            if r < chaos[1]:
                injected = ("RequestLimitExceeded", 503)
            elif r < chaos[1] + chaos[2]:
                injected = ("InternalError", 500)
            elif r < chaos[1] + chaos[2] + chaos[3]:
                self.close_connection = True
                self.connection.shutdown(2)
                return
        if injected:
            code, status = injected
            with lock, open(os.path.join(args.dir, "injected.log"), "a") as f:
                f.write(f"{n} {action} {code}\n")
            self._error(n, status, code, "injected by the test proxy")
            return
        if action in answers:
            # What was asked of an answered action, for the test to check (moto never sees it).
            with lock:
                with open(os.path.join(args.dir, "answered.log"), "a") as f:
                    f.write(f"{region} {body.decode('utf-8', 'replace')}\n")
            data = answers[action]
            self.send_response_only(200)
            self.send_header("Content-Type", "application/x-amz-json-1.1" if data.startswith(b"{") else "text/xml")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        if action in fails and fails[action][1] > 0:
            with lock:
                fails[action][1] -= 1
            code = fails[action][0]
            self._error(n, 400 if code != "InternalError" else 500, code, fails[action][2])
            return
        conn = http.client.HTTPConnection("127.0.0.1", args.upstream, timeout=60)
        headers = {k: v for k, v in self.headers.items() if k.lower() != "connection"}
        try:
            conn.request(self.command, self.path, body=body or None, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
        except (OSError, http.client.HTTPException) as e:
            # moto dropped the call (it can, under many parallel builds): AWS would answer an
            # InternalError, which every SDK retries — a reset here would not be AWS.
            with lock, open(os.path.join(args.dir, "upstream-errors.log"), "a") as f:
                f.write(f"{n} {action} {e!r}\n")
            self._error(n, 500, "InternalError", "the emulator dropped the call")
            return
        finally:
            conn.close()
        if action == "DescribeSnapshots" and resp.status == 200:
            data = snapshot_progress(data)
        if slow_secs and resp.status == 200:
            if action in ("DescribeInstances", "DescribeImages"):
                data = hold_back(action, data)
            else:
                note_change(action, body, data)
        if args.slow:
            with lock:
                if action in CHANGES and resp.status == 200:
                    slow_left[CHANGES[action]] = args.slow
                elif action in ("DescribeInstances", "DescribeImages") and slow_left.get(action, 0) > 0:
                    slow_left[action] -= 1
                    text = data.decode()
                    if action == "DescribeImages":
                        text = text.replace("<imageState>available</imageState>", "<imageState>pending</imageState>")
                    else:
                        for new, old in BACK.items():
                            text = re.sub(r"(<instanceState>\s*<code>\d+</code>\s*<name>)" + new + "(</name>)", r"\g<1>" + old + r"\g<2>", text)
                    data = text.encode()
        self.send_response_only(resp.status, resp.reason)
        for k, v in resp.getheaders():
            if k.lower() not in HOP:
                self.send_header(k, v)
        shifted = datetime.now(timezone.utc) + timedelta(seconds=args.date_offset)
        self.send_header("Date", format_datetime(shifted, usegmt=True))
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _timed(self):
        """Answers a request; logs when it came and when its answer was written."""
        start = time.monotonic()
        self.seq_no = None
        try:
            self._forward()
        finally:
            if self.seq_no is not None:
                with lock, open(os.path.join(args.dir, "timing.log"), "a") as f:
                    f.write(f"{self.seq_no} {start:.6f} {time.monotonic():.6f}\n")

    do_GET = do_POST = do_PUT = do_DELETE = _timed


# Sixteen parallel builds connect at once: the default backlog (5) would drop SYNs, and each
# dropped one costs a client a second.
ThreadingHTTPServer.request_queue_size = 128
server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
with open(args.port_file + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
os.rename(args.port_file + ".tmp", args.port_file)
server.serve_forever()
