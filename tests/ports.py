"""A TCP port nobody listens on right now, for a server a test or a benchmark starts."""

import socket


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port
