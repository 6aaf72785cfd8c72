"""Byte relay shared by the test helpers that forward connections (socks5.py, ssm_plugin.py)."""
import socket


def pump(a, b):
    """Copies a to b until a closes, then shuts both down."""
    try:
        while True:
            data = a.recv(65536)
            if not data:
                break
            b.sendall(data)
    except OSError:
        pass
    for s in (a, b):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
