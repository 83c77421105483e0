"""The listening socket, bound before the app starts.

Binding first means a taken port is reported in one line before anything else happens
(no store opened, no "audit bot on http://…" announced for a port the bot never got),
and the announced port is the real one even with PORT=0.
"""

from __future__ import annotations

import errno
import socket


class CannotListen(Exception):
    """One line saying why HOST:PORT cannot be listened on."""


def listen(host: str, port: int, backlog: int = 128) -> socket.socket:
    """A socket listening on (host, port), or CannotListen with the reason."""
    where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    try:
        family, _, _, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        return socket.create_server(address, family=family, backlog=backlog)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            reason = "the port is already in use (stop the other process, or set PORT)"
        else:
            reason = exc.strerror or str(exc)
        raise CannotListen(f"cannot listen on {where}: {reason}") from None
