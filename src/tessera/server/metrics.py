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
  files: a counter's increment per label set, and per endpoint the durations' sum and each bucket's count
  (:func:`_observe_all`), not two writes per request as ``observe`` would. Each of those writes takes a lock and
  touches a memory-mapped file (1-2 µs), which on every request of a hot path would show; once per batch, it
  does not (measured in ``bench/``, see ``bench/RESULTS.md``).
  The exposition lags the traffic by at most that interval. :meth:`Metrics.close` flushes what is left, so a
  worker that stops loses nothing.

In multiprocess mode the master process serves ``/metrics`` on a loopback port of its own
(:func:`serve_metrics`), summing the files of every worker, present and past: a restarted worker's counts are
kept. ``prometheus_client`` is imported only when metrics are on, after ``PROMETHEUS_MULTIPROC_DIR`` is set.
"""

import bisect
import collections
import functools
import itertools
import operator
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
# a request's path, status and duration in seconds
_Request = tuple[str, int, float]
_PATH_STATUS = operator.itemgetter(0, 1)
_PATH = operator.itemgetter(0)
_SECONDS = operator.itemgetter(2)


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
        self._requests: collections.deque[_Request] = collections.deque()  # every request's: a queue of its own
        self._flusher = Periodic(self.flush, "tessera-metrics")
        self._record: Callable[[_Fact], None] = self._apply if enabled else _discard
        self._record_request: Callable[[_Request], None] = self._apply_request if enabled else _discard
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
        self._record_request((path, status, seconds))

    # applying them

    def endpoint(self, path: str) -> str:
        """The ``endpoint`` label of ``path``: its path in the request map, ``/static``, or ``other``."""
        if path in self.endpoints:
            return path
        return STATIC if path.startswith(STATIC + "/") else OTHER

    def _apply(self, fact: _Fact) -> None:
        self._apply_facts([fact])

    def _apply_request(self, request: _Request) -> None:
        self._apply_requests([request])

    def _apply_facts(self, facts: Iterable[_Fact]) -> None:
        for fact, n in collections.Counter(facts).items():
            kind = fact[0]
            if kind == "issued":
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

    def _apply_requests(self, requests: list[_Request]) -> None:
        """Count the requests by endpoint and status, and observe their durations by endpoint, with one write per
        label set (:func:`_observe_all`). Python works per path and per label set; per request, only C does
        (``Counter``, ``sort``, ``groupby``, ``map``)."""
        for (path, status), n in collections.Counter(map(_PATH_STATUS, requests)).items():
            self.requests.labels(self.endpoint(path), str(status)).inc(n)
        requests.sort(key=_PATH)
        durations: dict[str, list[float]] = {}
        for path, same in itertools.groupby(requests, _PATH):
            durations.setdefault(self.endpoint(path), []).extend(map(_SECONDS, same))
        for endpoint, seconds in durations.items():
            _observe_all(self._durations[endpoint], seconds)

    def flush(self) -> None:
        """Apply every queued fact (queued mode); the sums go to ``prometheus_client`` once per label set."""
        facts = _drained(self._queue)
        if facts:
            self._apply_facts(facts)
        requests = _drained(self._requests)
        if requests:
            self._apply_requests(requests)

    def start(self, interval: float = FLUSH_INTERVAL) -> None:
        """Queue facts from now on, for a thread to apply every ``interval`` seconds."""
        if self.enabled and not self._flusher.running:
            self._record, self._record_request = self._queue.append, self._requests.append
            self._flusher.start(interval)

    def close(self) -> None:
        """Stop queueing and apply whatever is still queued."""
        if self._flusher.running:
            self._flusher.stop()
            self._record, self._record_request = self._apply, self._apply_request
        if self.enabled:
            self.flush()


def _drained(queue: "collections.deque[Any]") -> list[Any]:
    """What ``queue`` holds now, taken off it: ``popleft`` as many times as it had items, called from C (a
    request thread may append meanwhile; what it appends stays for the next time)."""
    return list(itertools.islice(iter(queue.popleft, None), len(queue)))


def _observe_all(histogram: Any, amounts: Sequence[float]) -> None:
    """What ``histogram.observe(amount)`` for each of ``amounts`` does, in one write per bucket used and one for the
    sum rather than two per amount (``observe`` adds the amount to the sum and one to the first bucket whose
    upper bound is at least the amount; in multiprocess mode each is a locked write to a memory-mapped file).

    ``prometheus_client`` has no public call for many observations: this uses its histogram child's ``_sum``,
    ``_buckets`` and ``_upper_bounds`` (the last with ``+Inf``), as ``observe`` does. The range of
    ``prometheus-client`` in ``pyproject.toml`` is the one this was checked against, and
    ``tests/server/test_metrics.py`` fails if they change. The sum may differ from the one-by-one sum in the last
    bits of the float (the amounts are added together first), which no scrape shows."""
    buckets = histogram._buckets
    histogram._sum.inc(sum(amounts))
    # the first bound >= amount, as observe's loop finds it
    for index, n in collections.Counter(
        map(functools.partial(bisect.bisect_left, histogram._upper_bounds), amounts)
    ).items():
        buckets[index].inc(n)


def serve_metrics(port: int, multiprocess_dir: str) -> Any:
    """Serve ``/metrics`` on ``127.0.0.1:port`` from a thread of this process: every worker's counts, summed.
    Returns the HTTP server (``shutdown()`` stops it). Raises ``OSError`` if the port cannot be bound."""
    from prometheus_client import CollectorRegistry, start_http_server
    from prometheus_client.multiprocess import MultiProcessCollector

    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=multiprocess_dir)  # type: ignore[no-untyped-call]
    server, _thread = start_http_server(port, addr="127.0.0.1", registry=registry)
    return server
