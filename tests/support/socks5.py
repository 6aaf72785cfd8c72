"""A SOCKS5 proxy on 127.0.0.1 for the ssh_proxy_* tests (RFC 1928 CONNECT, RFC 1929
username/password). Every CONNECT is appended to DIR/socks5.connects as "HOST:PORT".

Usage: socks5.py PORT_FILE DIR [USER PASSWORD]
"""
import os
import socket
import struct
import sys
import threading

from relay import pump

port_file, log_dir = sys.argv[1], sys.argv[2]
login = (sys.argv[3], sys.argv[4]) if len(sys.argv) > 4 else None


def read(conn, n):
    data = b""
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            raise EOFError
        data += chunk
    return data


def serve(conn):
    try:
        ver, n = read(conn, 2)
        methods = read(conn, n)
        want = 2 if login else 0
        if ver != 5 or want not in methods:
            conn.sendall(b"\x05\xff")
            return
        conn.sendall(bytes([5, want]))
        if login:
            _, ulen = read(conn, 2)
            user = read(conn, ulen).decode()
            (plen,) = read(conn, 1)
            password = read(conn, plen).decode()
            ok = (user, password) == login
            conn.sendall(b"\x01\x00" if ok else b"\x01\x01")
            if not ok:
                return
        _, cmd, _, atyp = read(conn, 4)
        if atyp == 1:
            host = socket.inet_ntoa(read(conn, 4))
        elif atyp == 3:
            (ln,) = read(conn, 1)
            host = read(conn, ln).decode()
        else:
            host = socket.inet_ntop(socket.AF_INET6, read(conn, 16))
        (port,) = struct.unpack(">H", read(conn, 2))
        with open(os.path.join(log_dir, "socks5.connects"), "a") as f:
            f.write(f"{host}:{port}\n")
        try:
            up = socket.create_connection((host, port), timeout=10)
        except OSError:
            conn.sendall(b"\x05\x05\x00\x01\x00\x00\x00\x00\x00\x00")
            return
        up.settimeout(None)
        conn.sendall(b"\x05\x00\x00\x01\x7f\x00\x00\x01" + struct.pack(">H", port))
        threading.Thread(target=pump, args=(up, conn), daemon=True).start()
        pump(conn, up)
    except (EOFError, OSError):
        pass


srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", 0))
srv.listen(16)
with open(port_file + ".tmp", "w") as f:
    f.write(str(srv.getsockname()[1]))
os.rename(port_file + ".tmp", port_file)
while True:
    c, _ = srv.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
