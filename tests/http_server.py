"""A real HTTP server on 127.0.0.1 serving fixture files, with Range support and injectable faults."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


class FixtureServer:
    """Serve the files of ``root`` at ``http://127.0.0.1:<port>/<name>`` from a background thread.

    Faults, per file name:

    - ``drops[name] = (nbytes, times)``: the next ``times`` responses send the
      full ``Content-Length`` header but close the connection after ``nbytes``
      bytes of the body (a dropped connection);
    - ``corrupt``: names served with one byte flipped in the middle, always;
    - ``ignore_range``: names for which ``Range`` is ignored (status 200, whole file).

    ``requests`` records ``(name, Range header or None)`` of every GET.
    """

    def __init__(self, root: Path):
        self.root = Path(root)
        self.drops: dict[str, tuple[int, int]] = {}
        self.corrupt: set[str] = set()
        self.ignore_range: set[str] = set()
        self.requests: list[tuple[str, str | None]] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"  # one request per connection

            def log_message(self, *args):  # keep pytest output clean
                pass

            def do_GET(self):  # noqa: N802 (http.server API)
                server._serve(self)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/"

    def url(self, name: str) -> str:
        return self.base_url + name

    def names_requested(self) -> list[str]:
        return [name for name, _ in self.requests]

    def __enter__(self) -> FixtureServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def _serve(self, handler: BaseHTTPRequestHandler) -> None:
        name = handler.path.lstrip("/")
        range_header = handler.headers.get("Range")
        with self._lock:
            self.requests.append((name, range_header))
            drop = self.drops.get(name)
            if drop and drop[1] > 0:
                self.drops[name] = (drop[0], drop[1] - 1)
            else:
                drop = None
        path = self.root / name
        if not path.is_file():
            handler.send_error(404, "Not Found")
            return
        data = bytearray(path.read_bytes())
        if name in self.corrupt:
            data[len(data) // 2] ^= 0xFF
        start = 0
        if range_header and name not in self.ignore_range:
            start = int(range_header.removeprefix("bytes=").split("-")[0])
            if start >= len(data):
                handler.send_error(416, "Range Not Satisfiable")
                return
            handler.send_response(206)
            handler.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            handler.send_response(200)
        handler.send_header("Content-Length", str(len(data) - start))
        handler.end_headers()
        body = bytes(data[start:])
        if drop is not None:
            body = bytes(data[start : max(drop[0], start)])
        handler.wfile.write(body)
        handler.wfile.flush()
