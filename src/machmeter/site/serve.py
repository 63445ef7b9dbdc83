"""Previewing a built site on this machine: a plain HTTP server on localhost (the pages fetch their
JSON, which browsers refuse on file://)."""

from __future__ import annotations

import functools
import http.server
import os
import threading


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 (the base class's name)
        pass


def _server(folder: str, host: str, port: int) -> http.server.ThreadingHTTPServer:
    handler = functools.partial(_QuietHandler, directory=os.path.abspath(folder))
    return http.server.ThreadingHTTPServer((host, port), handler)


def start_server(folder: str, host: str = "127.0.0.1", port: int = 0) -> http.server.ThreadingHTTPServer:
    """Serve ``folder`` in a background thread; the server's ``server_address`` has the real port."""
    server = _server(folder, host, port)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="machmeter-site-server", daemon=True)
    thread.start()
    return server


def serve_forever(folder: str, host: str = "127.0.0.1", port: int = 8000) -> None:
    """Serve ``folder`` until interrupted (Ctrl-C), printing where."""
    with _server(folder, host, port) as server:
        shown_host = server.server_address[0]
        print(f"machmeter: serving {folder} at http://{shown_host}:{server.server_address[1]}/ (Ctrl-C to stop)",
              flush=True)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            print("machmeter: stopped", flush=True)
