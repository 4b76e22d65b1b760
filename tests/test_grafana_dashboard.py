"""The Grafana dashboard in docs/ queries only series the server exposes."""

import json
import re
from pathlib import Path

from prometheus_client import CollectorRegistry, generate_latest

from tessera.app import new_metrics

DASHBOARD = Path(__file__).resolve().parent.parent / "docs" / "grafana-dashboard.json"


def test_every_series_the_dashboard_queries_exists() -> None:
    registry = CollectorRegistry()
    new_metrics(registry)
    exposed = {line.split("{")[0].split(" ")[0] for line in generate_latest(registry).decode().splitlines()}
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    queried = {
        name
        for panel in dashboard["panels"]
        for target in panel["targets"]
        for name in re.findall(r"\btessera_\w+", target["expr"])
    }
    assert len(queried) >= 6
    assert queried <= exposed, queried - exposed
    # the panels the issue asks for: issuance rate, introspection rate and p99, failures by kind, rate limiting
    titles = " ".join(panel["title"] for panel in dashboard["panels"]).lower()
    for word in ("issued", "introspections", "introspection latency", "failures", "rate-limited"):
        assert word in titles, word
