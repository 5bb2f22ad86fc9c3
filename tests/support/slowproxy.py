"""A loopback TCP proxy that delays every chunk it forwards: a slow registry for fault tests.
Bounded: it serves only while its context is open, and only on 127.0.0.1."""

from __future__ import annotations

import socket
import threading
import time
from contextlib import contextmanager
from typing import Iterator


def _pump(src: socket.socket, dst: socket.socket, delay: float, stop: threading.Event) -> None:
    try:
        while not stop.is_set():
            data = src.recv(65536)
            if not data:
                break
            time.sleep(delay)
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


@contextmanager
def slow_proxy(target_port: int, delay: float = 2.0, target_host: str = "127.0.0.1") -> Iterator[int]:
    """Yields the proxy's port; each forwarded chunk waits `delay` seconds."""
    stop = threading.Event()
    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(16)
    lsock.settimeout(0.2)
    conns: list[socket.socket] = []

    def accept_loop() -> None:
        while not stop.is_set():
            try:
                client, _ = lsock.accept()
            except socket.timeout:
                continue
            except OSError:
                break
            try:
                upstream = socket.create_connection((target_host, target_port), timeout=5)
            except OSError:
                client.close()
                continue
            conns.extend([client, upstream])
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=_pump, args=(a, b, delay, stop), daemon=True).start()

    t = threading.Thread(target=accept_loop, daemon=True)
    t.start()
    try:
        yield lsock.getsockname()[1]
    finally:
        stop.set()
        lsock.close()
        for c in conns:
            try:
                c.close()
            except OSError:
                pass
        t.join(timeout=2)
