"""The table a run prints, and Tessera's performance goals checked against it.

A scenario with any error (non-2xx, wrong body, socket error, used-up token pool) shows INVALID instead of a
throughput, and no ratio is computed from it.
"""

from collections.abc import Callable
from typing import Any

__all__ = ["render"]

Row = dict[str, Any]


def _valid(d: Row | None) -> bool:
    return d is not None and d.get("status") == "ok"


def _num(v: float) -> str:
    return f"{v:.0f}" if v >= 100 else (f"{v:.1f}" if v >= 10 else f"{v:.2f}")


def _rps(d: Row) -> str:
    status = d.get("status")
    if status == "ok":
        return _num(d["rps"])
    if status == "errors":
        return f"INVALID ({d['rps']:.0f})"
    if status == "preflight_failed":
        return f"PREFLIGHT FAILED (HTTP {d.get('http')})"
    return str(status)


def _errors(d: Row) -> str:
    if d.get("status") not in ("ok", "errors"):
        return "-"
    parts = []
    if d.get("non2xx"):
        codes = ", ".join(f"{k}: {v}" for k, v in sorted(d.get("codes", {}).items()))
        parts.append(f"non-2xx {d['non2xx']} ({codes})")
    if d.get("bad_body"):
        parts.append(f"bad body {d['bad_body']}")
    if d.get("pool_exhausted"):
        parts.append(f"pool used up {d['pool_exhausted']}")
    for k in ("connect", "read", "write", "timeout"):
        if d.get("sock_" + k):
            parts.append(f"socket {k} {d['sock_' + k]}")
    return "; ".join(parts) if parts else "0"


def _cpu(d: Row) -> str:
    if d.get("status") not in ("ok", "errors"):
        return "-"
    s = f"{d['server_cpu_ms_per_req']:.2f}"
    if "db_cpu_ms_per_req" in d:
        s += f" +{d['db_cpu_ms_per_req']:.2f}"
    return s


def _find(results: list[Row], target: str, scenario: str) -> Row | None:
    return next((d for d in results if d["target"] == target and d["scenario"] == scenario), None)


def _ratio(a: Row | None, b: Row | None) -> float | None:
    if not (_valid(a) and _valid(b)) or a is None or b is None or not b["rps"]:
        return None
    return float(a["rps"]) / float(b["rps"])


def _results_table(results: list[Row]) -> list[str]:
    out = [
        "| target | scenario | req/s | p50 ms | p99 ms | errors | server CPU ms/req (+DB) | SQL/op | × S0 "
        "| other CPU (cores) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for d in results:
        s0 = _find(results, d["target"], "S6c" if d["scenario"] in ("S6a", "S6b", "S6d", "S6e", "S6f") else "S0")
        ratio = _ratio(d, s0) if d["scenario"] not in ("S0", "S6c") else None
        measured = d.get("status") in ("ok", "errors")
        sql = d.get("sql_per_op")
        label = f"{d['scenario']} {d.get('label', '')}".strip()
        out.append(
            "| "
            + " | ".join(
                [
                    d["target"],
                    label,
                    _rps(d),
                    _num(d["p50_ms"]) if measured else "-",
                    _num(d["p99_ms"]) if measured else "-",
                    _errors(d),
                    _cpu(d),
                    "-" if sql is None else f"{sql:g}",
                    "-" if ratio is None else f"{ratio:.2f}",
                    f"{d['other_cpu_cores']:.2f}" if "other_cpu_cores" in d else "-",
                ]
            )
            + " |"
        )
    return out


def _memory_table(targets: list[Row]) -> list[str]:
    out = [
        "| target | processes | master peak RSS MiB | largest worker peak RSS MiB | sum of peak RSS MiB |",
        "|---|---|---|---|---|",
    ]
    for t in targets:
        m = t["memory"]
        out.append(
            f"| {t['target']} | {m['processes']} | {m['master_peak_mib']} | {m['worker_peak_mib']} "
            f"| {m['total_peak_mib']} |"
        )
    return out


def _check(name: str, value: float | None, goal: float, fmt: str, higher: bool = True) -> str:
    if value is None:
        return f"| {name} | not measured | {fmt.format(goal)} | - |"
    met = value >= goal if higher else value <= goal
    sign = "≥" if higher else "≤"
    return f"| {name} | {fmt.format(value)} | {sign} {fmt.format(goal)} | {'met' if met else 'NOT met'} |"


def _targets(results: list[Row], targets: list[Row]) -> list[str]:
    out = ["| goal | measured | target | |", "|---|---|---|---|"]
    find: Callable[[str, str], Row | None] = lambda t, s: _find(results, t, s)  # noqa: E731
    for ours, dot in (("tessera-pg", "dot-pg-g2"), ("tessera-sqlite", "dot-sqlite-g2")):
        if find(ours, "S0") is None:
            continue
        x = "{:.2f}×"
        out.append(_check(f"{ours} introspection / {dot} (hashed)", _ratio(find(ours, "S2"), find(dot, "S2")), 5, x))
        # the first round's "introspection costs little next to the framework": its S0 was a trivial Flask view,
        # which our S0 (/healthz, answered before Flask) no longer is; a Flask hello under gunicorn is one
        out.append(
            _check(
                f"{ours} introspection / flask-hello-g2 (a trivial Flask view)",
                _ratio(find(ours, "S2"), find("flask-hello-g2", "S0")),
                0.7,
                x,
            )
        )
        oidc_s2 = find("oidc-provider-1", "S2")
        out.append(_check(f"{ours} introspection / oidc-provider-1", _ratio(find(ours, "S2"), oidc_s2), 1, x))
        out.append(_check(f"{ours} issuance / {dot} (hashed)", _ratio(find(ours, "S1"), find(dot, "S1")), 5, x))
        oidc_s1 = find("oidc-provider-1", "S1")
        out.append(_check(f"{ours} issuance / oidc-provider-1", _ratio(find(ours, "S1"), oidc_s1), 1, x))
        out.append(
            _check(f"{ours} cached validation / unprotected", _ratio(find(ours, "S6a"), find(ours, "S6c")), 0.9, x)
        )
        out.append(
            _check(f"{ours} uncached validation / unprotected", _ratio(find(ours, "S6b"), find(ours, "S6c")), 0.5, x)
        )
        out.append(
            _check(
                f"{ours} uncached validation from the database (LocalSource) / unprotected",
                _ratio(find(ours, "S6f"), find(ours, "S6c")),
                0.5,
                x,
            )
        )
        out.append(
            _check(f"{ours} DPoP cached validation / unprotected", _ratio(find(ours, "S6d"), find(ours, "S6c")), 0.5, x)
        )
        out.append(
            _check(
                f"{ours} DPoP cached validation, RS256 proofs / unprotected",
                _ratio(find(ours, "S6e"), find(ours, "S6c")),
                0.5,
                x,
            )
        )
        s2, s1 = find(ours, "S2") or {}, find(ours, "S1") or {}
        out.append(_check(f"{ours} SQL statements per introspection", s2.get("sql_per_op"), 1, "{:g}", higher=False))
        out.append(_check(f"{ours} SQL statements per issuance", s1.get("sql_per_op"), 2, "{:g}", higher=False))
    hello = next((t for t in targets if t["target"] == "flask-hello-g2"), None)
    for t in targets:
        if t.get("peer"):
            continue
        ceiling = None if hello is None else float(hello["memory"]["worker_peak_mib"]) + 40
        worker = float(t["memory"]["worker_peak_mib"])
        if ceiling is None:
            out.append(f"| {t['target']} worker peak RSS | {worker} MiB | Flask hello + 40 MiB | not measured |")
        else:
            out.append(
                _check(
                    f"{t['target']} worker peak RSS (Flask hello worker + 40)",
                    worker,
                    ceiling,
                    "{:.1f} MiB",
                    higher=False,
                )
            )
    return out


def render(results: list[Row], targets: list[Row], header: list[str]) -> str:
    lines = [*header, "", *_results_table(results), "", *_memory_table(targets), "", *_targets(results, targets)]
    return "\n".join(lines) + "\n"
