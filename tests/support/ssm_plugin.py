"""A stand-in for AWS's session-manager-plugin, for the session_manager tests: it takes the
arguments Packer (and ambake) give the real plugin, records them (one JSON array per line in
$AMBAKE_TEST_SSM_LOG), and does what the real one does for a port-forwarding session —
listens on 127.0.0.1:localPortNumber and forwards each connection to portNumber, here on
127.0.0.1, where the test's sshd plays the instance.

Usage: ssm_plugin.py SESSION_JSON REGION StartSession PROFILE PARAMETERS_JSON ENDPOINT
"""
import json
import os
import socket
import sys
import threading

from relay import pump

args = sys.argv[1:]
with open(os.environ["AMBAKE_TEST_SSM_LOG"], "a") as f:
    f.write(json.dumps(args) + "\n")
if len(args) != 6 or args[2] != "StartSession":
    print("unexpected arguments", file=sys.stderr)
    sys.exit(2)
session = json.loads(args[0])
params = json.loads(args[4])["Parameters"]
local, remote = int(params["localPortNumber"][0]), int(params["portNumber"][0])


srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", local))
srv.listen(8)
print(f"Starting session with SessionId: {session['SessionId']}", flush=True)
print(f"Port {local} opened for sessionId {session['SessionId']}.", flush=True)
print("Waiting for connections...", flush=True)
while True:
    c, _ = srv.accept()
    up = socket.create_connection(("127.0.0.1", remote))
    threading.Thread(target=pump, args=(c, up), daemon=True).start()
    threading.Thread(target=pump, args=(up, c), daemon=True).start()
