"""Prometheus metrics: what the server counts, and how it stays cheap on the request path.

Each fact is counted where it is known (the grants count issuance, the introspection endpoint its answers, the
sign-in page its results, the access line every request's status and duration) by a call on
:class:`Metrics`, reached as ``context.metrics``. The series (the contract's, with their bounded label sets:
never a client id or a username as a label)::

    tessera_tokens_issued_total{grant_type}           tessera_introspections_total{active}
    tessera_revocations_total                         tessera_refresh_reuse_detected_total
    tessera_sign_ins_total{result}                    tessera_rate_limited_total
    tessera_http_requests_total{endpoint,status}      tessera_http_request_duration_seconds{endpoint}

Every one of them is there from the start, at zero: the unlabelled ones, each value of the bounded labels, and
for the per-endpoint series every endpoint of the request map with status ``200``.

Three modes:

- **off** (:meth:`Metrics.off`): every call does nothing. What a server without ``--metrics-port`` runs.
- **at once** (the default): each call increments the ``prometheus_client`` series in the calling thread. The
  tests and ``tessera demo`` (one process, its own registry).
- **queued** (:meth:`Metrics.start`, what ``tessera serve --metrics-port`` does in each worker): a call only
  appends a tuple to a deque (thread-safe, about 60 ns); a thread takes them off every
  :data:`FLUSH_INTERVAL` seconds, adds them up, and writes the sums to ``prometheus_client``'s multiprocess
  files. Each of those writes takes a lock and touches a memory-mapped file (1-2 µs), which on every request
  of a hot path would show; once per batch, it does not (measured in ``bench/``, see ``bench/RESULTS.md``).
  The exposition lags the traffic by at most that interval. :meth:`Metrics.close` flushes what is left, so a
  worker that stops loses nothing.

In multiprocess mode the master process serves ``/metrics`` on a loopback port of its own
(:func:`serve_metrics`), summing the files of every worker, present and past: a restarted worker's counts are
kept. ``prometheus_client`` is imported only when metrics are on, after ``PROMETHEUS_MULTIPROC_DIR`` is set.
"""

import collections
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from tessera.server.periodic import Periodic

__all__ = ["DURATION_BUCKETS", "FLUSH_INTERVAL", "Metrics", "serve_metrics"]

#: seconds between two flushes of the queued counts (queued mode)
FLUSH_INTERVAL = 0.2
#: the duration histogram's upper bounds, seconds: the hot paths answer in under a millisecond, pages in tens
DURATION_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

#: the label values of ``tessera_sign_ins_total``
SIGN_IN_RESULTS = ("success", "failure", "rate_limited")
#: the endpoint label of any path that is not in the request map (a 404, a scanner's guess): never the path
OTHER = "other"
STATIC = "/static"

_Fact = tuple[Any, ...]


def _discard(fact: _Fact) -> None:
    return None


class Metrics:
    """The server's counters. Build one with the request map's paths and the grant types, or :meth:`off`."""

    def __init__(
        self,
        *,
        endpoints: Iterable[str] = (),
        grant_types: Iterable[str] = (),
        registry: Any = None,
        enabled: bool = True,
    ) -> None:
        self.enabled = enabled
        self.endpoints = frozenset(endpoints)
        self._queue: collections.deque[_Fact] = collections.deque()
        self._flusher = Periodic(self.flush, "tessera-metrics")
        self._record: Callable[[_Fact], None] = self._apply if enabled else _discard
        if enabled:
            self._series(registry, sorted(self.endpoints), list(grant_types))

    @classmethod
    def off(cls) -> "Metrics":
        return cls(enabled=False)

    def _series(self, registry: Any, endpoints: Sequence[str], grant_types: Sequence[str]) -> None:
        # imported here: a server without metrics never loads prometheus_client, and in multiprocess mode it must
        # be imported after PROMETHEUS_MULTIPROC_DIR is set (it picks its storage at import)
        from prometheus_client import Counter, Histogram

        self.issued = Counter(
            "tessera_tokens_issued", "Tokens issued by the token endpoint", ["grant_type"], registry=registry
        )
        self.introspections = Counter(
            "tessera_introspections", "Introspection answers (RFC 7662)", ["active"], registry=registry
        )
        self.revocations = Counter(
            "tessera_revocations",
            "Revocations that ended a live grant (RFC 7009, reuse, replay, the account page)",
            registry=registry,
        )
        self.reuse = Counter(
            "tessera_refresh_reuse_detected",
            "Used refresh tokens presented again (the grant is revoked)",
            registry=registry,
        )
        self.sign_ins = Counter("tessera_sign_ins", "Sign-in attempts on the login page", ["result"], registry=registry)
        self.rate_limited = Counter(
            "tessera_rate_limited",
            "Requests refused by a rate limit (sign-in, token, introspection)",
            registry=registry,
        )
        self.requests = Counter(
            "tessera_http_requests", "HTTP requests answered", ["endpoint", "status"], registry=registry
        )
        self.duration = Histogram(
            "tessera_http_request_duration_seconds",
            "Time from the request's arrival to its answer",
            ["endpoint"],
            buckets=DURATION_BUCKETS,
            registry=registry,
        )
        # every series exposed at zero from the start
        for grant_type in grant_types:
            self.issued.labels(grant_type)
        for active in ("true", "false"):
            self.introspections.labels(active)
        for result in SIGN_IN_RESULTS:
            self.sign_ins.labels(result)
        for endpoint in [*endpoints, STATIC, OTHER]:
            self.requests.labels(endpoint, "200")
            self.duration.labels(endpoint)
        self._durations = {endpoint: self.duration.labels(endpoint) for endpoint in [*endpoints, STATIC, OTHER]}

    # the facts, counted where they are known

    def token_issued(self, grant_type: str) -> None:
        self._record(("issued", grant_type))

    def introspected(self, active: bool) -> None:
        self._record(("introspected", active))

    def revoked(self) -> None:
        self._record(("revoked",))

    def refresh_reuse(self) -> None:
        self._record(("reuse",))

    def sign_in(self, result: str) -> None:
        """``result``: one of :data:`SIGN_IN_RESULTS`."""
        self._record(("sign_in", result))

    def limited(self) -> None:
        self._record(("limited",))

    def request(self, path: str, status: int, seconds: float) -> None:
        self._record(("http", path, status, seconds))

    # applying them

    def endpoint(self, path: str) -> str:
        """The ``endpoint`` label of ``path``: its path in the request map, ``/static``, or ``other``."""
        if path in self.endpoints:
            return path
        return STATIC if path.startswith(STATIC + "/") else OTHER

    def _apply(self, fact: _Fact) -> None:
        self._apply_counts(collections.Counter([fact[:3]] if fact[0] == "http" else [fact]), [fact])

    def _apply_counts(self, counts: "collections.Counter[_Fact]", facts: Iterable[_Fact]) -> None:
        for fact, n in counts.items():
            kind = fact[0]
            if kind == "http":
                self.requests.labels(self.endpoint(fact[1]), str(fact[2])).inc(n)
            elif kind == "issued":
                self.issued.labels(fact[1]).inc(n)
            elif kind == "introspected":
                self.introspections.labels("true" if fact[1] else "false").inc(n)
            elif kind == "revoked":
                self.revocations.inc(n)
            elif kind == "reuse":
                self.reuse.inc(n)
            elif kind == "sign_in":
                self.sign_ins.labels(fact[1]).inc(n)
            elif kind == "limited":
                self.rate_limited.inc(n)
        for fact in facts:
            if fact[0] == "http":
                self._durations[self.endpoint(fact[1])].observe(fact[3])

    def flush(self) -> None:
        """Apply every queued fact (queued mode); the sums go to ``prometheus_client`` once per label set."""
        queue = self._queue
        facts: list[_Fact] = []
        while queue:
            facts.append(queue.popleft())
        if facts:
            counts = collections.Counter(fact[:3] if fact[0] == "http" else fact for fact in facts)
            self._apply_counts(counts, facts)

    def start(self, interval: float = FLUSH_INTERVAL) -> None:
        """Queue facts from now on, for a thread to apply every ``interval`` seconds."""
        if self.enabled and not self._flusher.running:
            self._record = self._queue.append
            self._flusher.start(interval)

    def close(self) -> None:
        """Stop queueing and apply whatever is still queued."""
        if self._flusher.running:
            self._flusher.stop()
            self._record = self._apply
        if self.enabled:
            self.flush()


def serve_metrics(port: int, multiprocess_dir: str) -> Any:
    """Serve ``/metrics`` on ``127.0.0.1:port`` from a thread of this process: every worker's counts, summed.
    Returns the HTTP server (``shutdown()`` stops it). Raises ``OSError`` if the port cannot be bound."""
    from prometheus_client import CollectorRegistry, start_http_server
    from prometheus_client.multiprocess import MultiProcessCollector

    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=multiprocess_dir)  # type: ignore[no-untyped-call]
    server, _thread = start_http_server(port, addr="127.0.0.1", registry=registry)
    return server
