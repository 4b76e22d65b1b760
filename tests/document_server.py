"""A web server on 127.0.0.1 that answers what a test tells it: the client's side of a fetch the server makes
(a client ID metadata document, a jwks_uri), or the server a resource server asks (a ``POST`` is answered as a
``GET``). Counts the requests and remembers their ``Host`` headers."""

import dataclasses
import datetime
import ipaddress
import json
import ssl
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


@dataclasses.dataclass
class Answer:
    body: bytes = b"{}"
    status: int = 200
    headers: dict[str, str] = dataclasses.field(default_factory=lambda: {"Content-Type": "application/json"})
    #: seconds to wait between the headers and each byte of the body
    drip: float = 0.0


def tls_pair(*names: str) -> tuple[ssl.SSLContext, ssl.SSLContext, bytes]:
    """A server context with a certificate for ``names`` (DNS names or IP addresses), issued by a CA made up
    here, a client context that trusts that CA and nothing else, and the CA's certificate (PEM)."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    alternatives: list[x509.GeneralName] = []
    for name in names:
        try:
            alternatives.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            alternatives.append(x509.DNSName(name))
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName(alternatives), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    with tempfile.TemporaryDirectory() as directory:
        chain, private = Path(directory, "leaf.pem"), Path(directory, "key.pem")
        chain.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
        private.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        server.load_cert_chain(chain, private)
    ca_pem = ca.public_bytes(serialization.Encoding.PEM)
    return server, ssl.create_default_context(cadata=ca_pem.decode()), ca_pem


class DocumentServer:
    """Plain HTTP, or HTTPS with ``tls`` (a server context from :func:`tls_pair`)."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
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

            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                self.do_GET()

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's name
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        if tls is not None:
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True)
        self.port = self._server.server_address[1]
        self.origin = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"
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
