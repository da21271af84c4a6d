"""A loopback HTTP proxy that puts the local stack under a stage prefix, as execute-api URLs have
it (`https://…/Prod/console`): `/Prod/<path>` goes to the stack's `/<path>`, anything else is a
404. It lets a browser test show that the console finds its assets and the API from its own URL.
"""

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests

# requests undoes the transfer and content encodings: the browser gets the bytes as they are.
HOP_HEADERS = {"connection", "content-encoding", "content-length", "transfer-encoding"}


def _handler(stage: str, target: str) -> type[BaseHTTPRequestHandler]:
    prefix = f"/{stage}/"

    class StageHandler(BaseHTTPRequestHandler):
        def _forward(self) -> None:
            if not self.path.startswith(prefix):
                self.send_error(404)
                return
            length = int(self.headers.get("Content-Length") or 0)
            reply = requests.request(
                self.command,
                target + self.path.removeprefix(prefix[:-1]),
                headers={k: v for k, v in self.headers.items() if k.lower() != "host"},
                data=self.rfile.read(length) if length else None,
                timeout=30,
            )
            self.send_response(reply.status_code)
            for name, value in reply.headers.items():
                if name.lower() not in HOP_HEADERS:
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(reply.content)))
            self.end_headers()
            self.wfile.write(reply.content)

        do_GET = do_POST = _forward

        def log_message(self, format: str, *args: object) -> None:
            pass

    return StageHandler


@contextmanager
def stage_proxy(target: str, stage: str = "Prod") -> Iterator[str]:
    """The URL of `target` under `/<stage>` (on 127.0.0.1, a free port), while in the block."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(stage, target))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/{stage}"
    finally:
        server.shutdown()
        server.server_close()
