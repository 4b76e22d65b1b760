"""A web server on 127.0.0.1 that answers what a test tells it: the client's side of a fetch the server makes
(a client ID metadata document, a jwks_uri). Counts the requests and remembers their ``Host`` headers."""

import dataclasses
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclasses.dataclass
class Answer:
    body: bytes = b"{}"
    status: int = 200
    headers: dict[str, str] = dataclasses.field(default_factory=lambda: {"Content-Type": "application/json"})
    #: seconds to wait between the headers and each byte of the body
    drip: float = 0.0


class DocumentServer:
    def __init__(self) -> None:
        self.answers: dict[str, Answer] = {}
        self.hosts: list[str] = []
        self.fetches: dict[str, int] = {}
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                owner.hosts.append(self.headers.get("Host", ""))
                owner.fetches[self.path] = owner.fetches.get(self.path, 0) + 1
                answer = owner.answers.get(self.path, Answer(b"not here", 404, {"Content-Type": "text/plain"}))
                self.send_response(answer.status)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer.body)))
                self.end_headers()
                try:
                    if answer.drip:
                        for byte in answer.body:
                            time.sleep(answer.drip)
                            self.wfile.write(bytes([byte]))
                            self.wfile.flush()
                    else:
                        self.wfile.write(answer.body)
                except OSError:
                    pass  # the fetcher gave up

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's name
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self.origin = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def url(self, path: str) -> str:
        return self.origin + path

    def serve_json(self, path: str, document: dict[str, Any], **headers: str) -> str:
        """Serve ``document`` at ``path``; ``headers`` as keyword arguments with ``_`` for ``-``. Its URL."""
        extra = {name.replace("_", "-"): value for name, value in headers.items()}
        self.answers[path] = Answer(
            json.dumps(document).encode(), headers={"Content-Type": "application/json", **extra}
        )
        return self.url(path)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
