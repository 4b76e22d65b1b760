"""The bounded fetcher behind ``jwks_uri`` and client ID metadata documents: one resolution, checked, and the
connection made to the address that was checked; private addresses refused in production; size, time and
redirect bounds."""

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tessera.server.fetch import BoundedFetcher, FetchError, is_public
from tests.document_server import Answer, DocumentServer, tls_pair


@pytest.fixture
def documents() -> Iterator[DocumentServer]:
    server = DocumentServer()
    yield server
    server.stop()


class _Resolver:
    """Answers each name from a script, one answer per call, and counts the calls."""

    def __init__(self, *answers: list[str]) -> None:
        self.answers = list(answers)
        self.calls: list[tuple[str, int]] = []

    def __call__(self, host: str, port: int) -> list[str]:
        self.calls.append((host, port))
        return self.answers.pop(0)


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("93.184.215.14", True),
        ("2606:2800:21f:cb07:6820:80da:af6b:8b2c", True),
        ("127.0.0.1", False),
        ("127.8.9.10", False),
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),  # cloud metadata services
        ("100.64.0.1", False),  # shared address space (carrier-grade NAT)
        ("0.0.0.0", False),
        ("224.0.0.1", False),
        ("239.255.255.250", False),
        ("240.0.0.1", False),
        ("255.255.255.255", False),
        ("192.0.2.1", False),
        ("::1", False),
        ("::", False),
        ("fe80::1", False),
        ("fe80::1%eth0", False),
        ("fc00::1", False),
        ("fd12:3456::1", False),
        ("fec0::1", False),
        ("ff02::1", False),
        ("::ffff:127.0.0.1", False),
        ("::ffff:10.0.0.1", False),
        ("::ffff:93.184.215.14", True),
    ],
)
def test_which_addresses_are_public(address: str, public: bool) -> None:
    assert is_public(address) is public


@pytest.mark.parametrize(
    "answer",
    [
        ["127.0.0.1"],
        ["10.0.0.5"],
        ["169.254.169.254"],
        ["::1"],
        ["fe80::1"],
        ["::ffff:10.0.0.1"],
        ["224.0.0.1"],
        ["93.184.215.14", "10.0.0.1"],  # one private answer among public ones is enough
    ],
)
def test_production_refuses_a_name_that_resolves_to_a_private_address_and_sends_nothing(answer: list[str]) -> None:
    sent: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json={})

    fetcher = BoundedFetcher(refuse_private=True, transport=httpx.MockTransport(record), resolve=_Resolver(answer))
    with pytest.raises(FetchError, match="the document's host is a private, loopback or link-local address"):
        fetcher.get("https://docs.example/client.json", max_bytes=5120, what="the document")
    assert sent == []


def test_the_connection_goes_to_the_address_that_was_checked_with_the_name_in_host_and_sni() -> None:
    """DNS rebinding: the name is resolved once; a second answer (here private) is never asked for or used."""
    sent: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json={"ok": True})

    resolver = _Resolver(["93.184.215.14"], ["127.0.0.1"])
    fetcher = BoundedFetcher(refuse_private=True, transport=httpx.MockTransport(answer), resolve=resolver)
    fetched = fetcher.get("https://docs.example/client.json?v=1", max_bytes=5120, what="the document")
    assert fetched.body == b'{"ok":true}' and fetched.content_type == "application/json"
    assert resolver.calls == [("docs.example", 443)]
    (request,) = sent
    assert str(request.url) == "https://93.184.215.14/client.json?v=1"
    assert request.headers["Host"] == "docs.example"
    assert request.extensions["sni_hostname"] == "docs.example"
    assert request.headers["Accept-Encoding"] == "identity"


def test_a_fetch_over_a_real_socket_reaches_the_resolved_address(documents: DocumentServer) -> None:
    """``docs.example`` resolves nowhere but in the fetcher's resolver: the request can only have reached the
    document server through the address that resolver gave."""
    url = documents.serve_json("/client.json", {"hello": "world"}, Cache_Control="max-age=600")
    resolver = _Resolver(["127.0.0.1"])
    fetcher = BoundedFetcher(refuse_private=False, resolve=resolver)
    fetched = fetcher.get(url.replace("127.0.0.1", "docs.example"), max_bytes=5120, what="the document")
    assert fetched.body == b'{"hello": "world"}'
    assert fetched.cache_control == "max-age=600"
    assert documents.hosts == [f"docs.example:{documents.port}"]


def test_over_https_the_certificate_is_checked_for_the_name_while_connecting_to_the_checked_address() -> None:
    """The name goes in SNI and the certificate check, not the address: a certificate for ``docs.example`` is
    accepted at 127.0.0.1 when the URL says ``docs.example``, and one for another name is refused."""
    server_tls, client_tls, _ = tls_pair("docs.example")
    documents = DocumentServer(tls=server_tls)
    try:
        documents.serve_json("/client.json", {"hello": "tls"})
        url = f"https://docs.example:{documents.port}/client.json"
        fetcher = BoundedFetcher(refuse_private=False, resolve=_Resolver(["127.0.0.1"]), verify=client_tls)
        assert fetcher.get(url, max_bytes=5120, what="the document").body == b'{"hello": "tls"}'
        assert documents.hosts == [f"docs.example:{documents.port}"]
        other = BoundedFetcher(refuse_private=False, resolve=_Resolver(["127.0.0.1"]), verify=client_tls)
        with pytest.raises(FetchError, match=r"the document could not be fetched \(ConnectError\)"):
            other.get(url.replace("docs.example", "evil.example"), max_bytes=5120, what="the document")
        untrusted = BoundedFetcher(refuse_private=False, resolve=_Resolver(["127.0.0.1"]))
        with pytest.raises(FetchError, match=r"the document could not be fetched \(ConnectError\)"):
            untrusted.get(url, max_bytes=5120, what="the document")
    finally:
        documents.stop()


def test_the_bounds(documents: DocumentServer) -> None:
    fetcher = BoundedFetcher(refuse_private=False, timeout=0.5)
    documents.answers["/big"] = Answer(b"x" * 5121)
    documents.answers["/redirect"] = Answer(b"", 302, {"Location": documents.url("/big")})
    documents.answers["/missing"] = Answer(b"{}", 404)
    documents.answers["/slow"] = Answer(b'{"a": "slow answer"}', drip=0.1)
    cases = {
        "/big": "the document answered more than 5 KiB",
        "/redirect": r"the document answered a redirect \(HTTP 302\), which is not followed",
        "/missing": "the document answered HTTP 404",
        "/slow": r"the document (took longer than 0.5 seconds to answer|could not be fetched \(ReadTimeout\))",
    }
    for path, message in cases.items():
        with pytest.raises(FetchError, match=message):
            fetcher.get(documents.url(path), max_bytes=5120, what="the document")
    assert documents.fetches["/big"] == 1  # the redirect was not followed


def test_a_host_that_does_not_resolve_or_a_closed_port_is_a_one_line_refusal() -> None:
    def nowhere(host: str, port: int) -> list[str]:
        raise OSError("no such name")

    with pytest.raises(FetchError, match="the document's host does not resolve"):
        BoundedFetcher(refuse_private=False, resolve=nowhere).get(
            "https://x.invalid/c", max_bytes=10, what="the document"
        )
    with pytest.raises(FetchError, match=r"the document could not be fetched \(ConnectError\)"):
        BoundedFetcher(refuse_private=False).get("http://127.0.0.1:9/c", max_bytes=10, what="the document")


def test_a_server_that_fetches_nothing_never_imports_httpx(tmp_path: Path) -> None:
    """httpx, with what it pulls in, costs each worker about 8 MiB; it is imported by the first fetch of a
    ``jwks_uri`` or a client ID metadata document, which most servers never make."""
    script = (
        "import sys\n"
        "from tessera.config import Settings\n"
        "from tessera.app import create_app\n"
        f"create_app(Settings.from_env({{'TESSERA_DATABASE_URL': 'sqlite:///{tmp_path / 'x.db'}'}}))\n"
        "print('httpx' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False", result.stderr
