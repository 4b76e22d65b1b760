"""Bounded fetches of URLs that clients name: a ``jwks_uri`` (:mod:`tessera.server.client_keys`) and a client ID
metadata document (:mod:`tessera.server.client_documents`). A client chooses the URL, so the server fetching it
must not become a way into its own network (server-side request forgery), nor be held up by a slow or huge answer.

:class:`BoundedFetcher` fetches with these bounds:

* the host is resolved once, and the connection goes to the address that was checked: with
  ``refuse_private`` (production), every address the name resolves to must be a public unicast address
  (:func:`is_public`), else nothing is fetched. The request goes to that address with the name in ``Host`` and,
  for ``https``, in the TLS server name (SNI) and the certificate check, so a name whose answer changes between
  the check and the connection (DNS rebinding) reaches nothing but the address that was checked;
* no redirect is followed: a 3xx is a refusal (a redirect would name a target that was never checked);
* at most ``max_bytes`` of body, read as it arrives, and the whole answer within ``timeout`` seconds (each
  network step has the same timeout, so a server that stalls is given up on after at most twice that);
* an answer other than 200 is a refusal, and so is a compressed one (``identity`` is the only encoding asked
  for: a small compressed body can expand to any size).

Certificates are checked against certifi's roots, or the CA that ``SSL_CERT_FILE`` or ``SSL_CERT_DIR`` names;
proxy variables are ignored (a proxy would make the connection the check was for). Every refusal is a
:class:`FetchError` with one line saying why, which the caller turns into its OAuth error. ``resolve``,
``transport`` and ``verify`` replace the network and the trusted roots in tests.
"""

import dataclasses
import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

if TYPE_CHECKING:  # httpx (with what it pulls in, ~20 MiB) is imported by the first fetch, not by every worker
    import httpx

__all__ = ["BoundedFetcher", "FetchError", "Fetched", "Resolve", "is_public", "resolve"]

#: a host and a port to the addresses they resolve to
Resolve = Callable[[str, int], list[str]]


class FetchError(ValueError):
    """A URL that could not be fetched within the bounds: one line saying why."""


@dataclasses.dataclass(frozen=True)
class Fetched:
    body: bytes
    #: the media type, lower case, without parameters ("application/json")
    content_type: str
    #: the Cache-Control header as sent, "" if none
    cache_control: str


def resolve(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to, in the resolver's order, each once."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def is_public(address: str) -> bool:
    """Whether ``address`` is a public unicast address: not private, loopback, link-local, shared (100.64/10),
    reserved, unspecified, documentation or multicast, also when written as an IPv4-mapped IPv6 address.

    >>> is_public("93.184.215.14"), is_public("10.0.0.1"), is_public("::ffff:127.0.0.1"), is_public("fe80::1")
    (True, False, False, False)
    """
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return is_public(str(ip.ipv4_mapped))
        if ip.is_site_local:
            return False
    return ip.is_global and not ip.is_multicast and not ip.is_reserved


class BoundedFetcher:
    """Fetches URLs within the bounds of the module. One per process; thread-safe (httpx's client is)."""

    def __init__(
        self,
        *,
        refuse_private: bool,
        timeout: float = 3.0,
        transport: "httpx.BaseTransport | None" = None,
        resolve: Resolve = resolve,
        clock: Callable[[], float] = time.monotonic,
        verify: ssl.SSLContext | None = None,
    ) -> None:
        self._refuse_private = refuse_private
        self._timeout = timeout
        self._resolve = resolve
        self._clock = clock
        self._transport = transport
        self._verify = verify
        self._made: httpx.Client | None = None
        self._lock = threading.Lock()

    @property
    def _http(self) -> "httpx.Client":
        """The HTTP client, made at the first fetch: most servers never fetch anything."""
        with self._lock:
            if self._made is None:
                import httpx

                # certificates checked against certifi's roots, or SSL_CERT_FILE / SSL_CERT_DIR when set (a private
                # CA); no proxy from the environment: the connection must go to the address that was checked
                self._made = httpx.Client(
                    timeout=httpx.Timeout(self._timeout),
                    follow_redirects=False,
                    transport=self._transport,
                    trust_env=False,
                    verify=self._verify or httpx.create_ssl_context(trust_env=True),
                )
            return self._made

    def get(self, url: str, *, max_bytes: int, what: str, accept: str = "application/json") -> Fetched:
        """``url`` fetched within the bounds; ``what`` names it in refusals ("the jwks_uri")."""
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme == "https" else 80)
        address = self._address(host, port, what)
        literal = f"[{address}]" if ":" in address else address
        target = urlunsplit((parts.scheme, f"{literal}:{port}", parts.path or "/", parts.query, ""))
        # the name the URL gave, as the server expects it: Host, and for TLS the server name and certificate check
        netloc = parts.netloc.rpartition("@")[2]
        extensions = {"sni_hostname": host} if parts.scheme == "https" else {}
        deadline = self._clock() + self._timeout
        import httpx  # loaded by then (self._http): for its exceptions

        try:
            request = self._http.build_request(
                "GET",
                target,
                headers={"Host": netloc, "Accept": accept, "Accept-Encoding": "identity"},
                extensions=extensions,
            )
            response = self._http.send(request, stream=True)
            try:
                return self._read(response, max_bytes=max_bytes, what=what, deadline=deadline)
            finally:
                response.close()
        except httpx.HTTPError as exc:
            raise FetchError(f"{what} could not be fetched ({type(exc).__name__})") from None

    def _address(self, host: str, port: int, what: str) -> str:
        """The one address to connect to: the first the name resolves to, once every one of them was checked."""
        try:
            addresses = self._resolve(host, port)
        except (OSError, UnicodeError):
            raise FetchError(f"{what}'s host does not resolve") from None
        if not addresses:
            raise FetchError(f"{what}'s host does not resolve")
        if self._refuse_private and not all(is_public(a) for a in addresses):
            raise FetchError(f"{what}'s host is a private, loopback or link-local address")
        return addresses[0]

    def _read(self, response: "httpx.Response", *, max_bytes: int, what: str, deadline: float) -> Fetched:
        if response.is_redirect:
            raise FetchError(f"{what} answered a redirect (HTTP {response.status_code}), which is not followed")
        if response.status_code != 200:
            raise FetchError(f"{what} answered HTTP {response.status_code}")
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > max_bytes:
            raise FetchError(f"{what} answered more than {_size(max_bytes)}")
        if response.headers.get("content-encoding", "identity").strip().lower() != "identity":
            raise FetchError(f"{what} answered a compressed body, which is not accepted")
        body = b""
        for chunk in response.iter_bytes():
            body += chunk
            if len(body) > max_bytes:
                raise FetchError(f"{what} answered more than {_size(max_bytes)}")
            if self._clock() > deadline:
                raise FetchError(f"{what} took longer than {self._timeout:g} seconds to answer")
        content_type = response.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        return Fetched(body, content_type, response.headers.get("cache-control", ""))

    def close(self) -> None:
        self._http.close()


def _size(n: int) -> str:
    return f"{n // 1024} KiB" if n % 1024 == 0 else f"{n} bytes"
