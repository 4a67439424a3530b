"""Free local ports for servers whose library cannot report a port-0 binding."""

from __future__ import annotations

import socket


def free_port(host: str, kind: int = socket.SOCK_STREAM) -> int:
    """A port on ``host`` that was free a moment ago (TCP by default, UDP with SOCK_DGRAM).

    There is a short window in which another process could take it: callers that
    bind it later retry with a fresh port on ``OSError`` (see ``bind_with_retry``).
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, kind) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


async def bind_with_retry(start, host: str, port: int, kind: int = socket.SOCK_STREAM,
                          retry_on: tuple[type[Exception], ...] = (OSError,), attempts: int = 5):
    """``await start(port)``; with ``port == 0`` picks free ports, retrying a lost race.

    Returns ``(result, port)``.
    """
    last_error: Exception | None = None
    for _ in range(attempts if port == 0 else 1):
        chosen = port or free_port(host, kind)
        try:
            return await start(chosen), chosen
        except retry_on as exc:
            last_error = exc
    assert last_error is not None
    raise last_error
