"""A webhook receiver on loopback that never finishes its reply: the deadline tests' server."""

import contextlib
import socket
import threading
import time


class DrippingReceiver:
    """A loopback webhook that reads the request, then drips its reply a byte at a time and
    never finishes it: each read gets a byte in time, so only a total deadline ends the wait."""

    def __init__(self, drip_seconds: float = 0.05) -> None:
        self.requests = 0
        self._drip = drip_seconds
        self._stopping = threading.Event()
        self._server = socket.create_server(("127.0.0.1", 0))
        self._server.settimeout(0.1)
        self.url = f"http://127.0.0.1:{self._server.getsockname()[1]}/hook"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._stopping.is_set():
            try:
                connection, _ = self._server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.requests += 1
            threading.Thread(target=self._answer, args=(connection,), daemon=True).start()

    def _answer(self, connection: socket.socket) -> None:
        with connection, contextlib.suppress(OSError):
            connection.recv(65536)  # the request (headers and a small body)
            connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n")
            while not self._stopping.is_set():
                connection.sendall(b"x")
                time.sleep(self._drip)

    def close(self) -> None:
        self._stopping.set()
        self._server.close()
