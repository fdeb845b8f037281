"""Start the studio: bind a socket, print the address with its token, serve until stopped."""

from __future__ import annotations

import secrets
import socket
import sys
import threading
import webbrowser
from pathlib import Path

#: The only address the studio listens on unless told otherwise.
LOCAL = "127.0.0.1"


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port`` (port 0: a free one, chosen by the system)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(64)
    sock.set_inheritable(True)
    return sock


def address(host: str, port: int, token: str) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/?token={token}"


def serve(folder: str | Path, host: str = LOCAL, port: int = 0, open_browser: bool = True,
          token: str | None = None) -> None:
    """Serve the studio over ``folder`` until Ctrl-C; the address goes to stdout."""
    import uvicorn

    from salessim.studio.app import create_app

    token = token or secrets.token_urlsafe(24)
    sock = bind(host, port)
    url = address(host, sock.getsockname()[1], token)
    app = create_app(folder, token)
    print(f"salessim studio over {Path(folder).resolve()}\n"
          f"open {url}\n(Ctrl-C stops it)", flush=True)
    if open_browser:
        threading.Timer(1.0, webbrowser.open, [url]).start()
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    try:
        server.run(sockets=[sock])
    finally:
        app.jobs.close()
        sock.close()
        print("salessim studio stopped", file=sys.stderr, flush=True)
