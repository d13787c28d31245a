"""Prometheus metrics: requests by route template and status, the pool, the outbox backlog, and totals read from
the database at scrape time.

Multiprocess-safe: `linli serve` points `PROMETHEUS_MULTIPROC_DIR` at a fresh directory before any API process
starts (prometheus_client picks its file-backed values when first imported), every process writes its own files
there and `/metrics`, whichever process answers it, adds them all up. A process marks itself dead on shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import ipaddress
import os
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from litestar import Request, Response, get
from litestar.handlers import HTTPRouteHandler
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from linli import db
from linli.errors import Forbidden, register_code
from linli.settings import get_settings

METRICS_FORBIDDEN = register_code(
    "metrics_forbidden", 403, "无权读取监控指标", "Metrics are only for the monitoring system"
)

# Labelled by the route TEMPLATE Litestar matched (`/api/v1/bookings/{booking_id}`), never the raw path: one series
# per route, not per booking. Unmatched paths (404/405) never reach the request middleware and are not counted.
REQUESTS = Counter("linli_http_requests", "HTTP requests answered", ["method", "route", "status"])
REQUEST_SECONDS = Histogram(
    "linli_http_request_duration_seconds",
    "Time from the request middleware's start to its end",
    ["method", "route", "status"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
# Sampled once a second by each API process (`lifespan`), not on every acquire, so bookings pay nothing for them.
POOL_IN_USE = Gauge("linli_db_pool_connections_in_use", "Pooled connections lent out", multiprocess_mode="livesum")
POOL_WAITING = Gauge(
    "linli_db_pool_waiting", "Requests waiting in line for a pooled connection", multiprocess_mode="livesum"
)

# (method, route, status) -> its two labelled children: `labels()` validates and locks on every call; the middleware
# looks its pair up in a plain dict instead.
_children: dict[tuple[str, str, int], tuple[Any, Any]] = {}


def observe_request(method: str, route: str, status: int, started: float) -> None:
    """Count one answered request (called by the app's one request middleware, `server.app`)."""
    key = (method, route, status)
    pair = _children.get(key)
    if pair is None:
        label = (method, route, str(status))
        pair = _children[key] = (REQUESTS.labels(*label), REQUEST_SECONDS.labels(*label))
    pair[0].inc()
    pair[1].observe(time.perf_counter() - started)


@dataclass(frozen=True, slots=True)
class DatabaseTotal:
    """A counter read from committed rows at scrape time (`sql` is one scalar expression, e.g. a subquery).

    Counted from the database rather than incremented in code: only committed rows are there, so a rolled-back
    booking never counts, and the total is the same whichever process (API or worker) did the work. Every API
    replica reports the same deployment-wide value: aggregate with `max`, not `sum`.
    """

    name: str
    documentation: str
    sql: str


class _Snapshot(Collector):
    """The values read by the scrape's one query."""

    def __init__(self, families: list[Any]) -> None:
        self._families = families

    def collect(self) -> Any:
        return iter(self._families)


async def _database_families(totals: Sequence[DatabaseTotal]) -> list[Any]:
    # One round trip; the backlog is read through the partial index of unsent rows (`outbox_events_pending`).
    columns = [
        "(SELECT count(*) FROM outbox_events WHERE sent_at IS NULL) AS outbox_unsent",
        "(SELECT coalesce(extract(epoch FROM now() - min(created_at)), 0) FROM outbox_events"
        " WHERE sent_at IS NULL) AS outbox_oldest_seconds",
        # Through `outbox_events_undelivered`: sent rows no actor has finished yet (queued, running, or lost with a
        # Redis that restarted empty until the relay sends them again).
        "(SELECT count(*) FROM outbox_events WHERE sent_at IS NOT NULL AND delivered_at IS NULL) AS outbox_undelivered",
        *(f"({total.sql}) AS t{i}" for i, total in enumerate(totals)),
    ]
    row = await db.fetchrow("SELECT " + ", ".join(columns))
    assert row is not None
    families: list[Any] = [
        GaugeMetricFamily("linli_outbox_unsent_events", "Outbox events not yet relayed", value=row["outbox_unsent"]),
        GaugeMetricFamily(
            "linli_outbox_oldest_unsent_age_seconds",
            "Age of the oldest outbox event not yet relayed (0 when none)",
            value=float(row["outbox_oldest_seconds"]),
        ),
        GaugeMetricFamily(
            "linli_outbox_undelivered_events",
            "Outbox events sent to Redis that not every subscribed actor has handled yet",
            value=row["outbox_undelivered"],
        ),
    ]
    for i, total in enumerate(totals):
        families.append(CounterMetricFamily(total.name, total.documentation, value=row[f"t{i}"] or 0))
    return families


_LOOPBACK_NAMES = frozenset({"localhost", "testclient"})


def _is_loopback(host: str | None) -> bool:
    if host is None:
        return False
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_access(request: Request[Any, Any, Any]) -> None:
    """`LINLI_METRICS_TOKEN` as a bearer token when set; else only clients on this machine may scrape."""
    token = get_settings().metrics_token
    if token is not None:
        presented = request.headers.get("authorization", "").partition(" ")[2].strip()
        if hmac.compare_digest(presented.encode(), token.get_secret_value().encode()):
            return
        raise Forbidden("a valid metrics token is required", code=METRICS_FORBIDDEN)
    if not _is_loopback(request.client.host if request.client else None):
        raise Forbidden("metrics are served to loopback clients only", code=METRICS_FORBIDDEN)


def metrics_handler(totals: Sequence[DatabaseTotal] = ()) -> HTTPRouteHandler:
    """`GET /metrics` in the Prometheus text format; `totals` are the domains' counters (given by server.app)."""

    @get("/metrics", public=True, include_in_schema=False)
    async def metrics(request: Request[Any, Any, Any]) -> Response[bytes]:
        check_access(request)
        _sample_pool()
        registry: CollectorRegistry = REGISTRY
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        scrape = CollectorRegistry()
        scrape.register(_Snapshot(await _database_families(totals)))
        body = generate_latest(registry) + generate_latest(scrape)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    return metrics


def _sample_pool() -> None:
    in_use, waiting = db.pool_stats()
    POOL_IN_USE.set(in_use)
    POOL_WAITING.set(waiting)


async def _sample_forever(stop: asyncio.Event) -> None:
    while not stop.is_set():
        _sample_pool()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=1.0)


@asynccontextmanager
async def lifespan(app: Any) -> AsyncIterator[None]:
    """Samples the pool gauges while the process serves; marks the process dead in the shared metrics directory
    when it stops, so its live gauges leave the sums."""
    stop = asyncio.Event()
    sampler = asyncio.create_task(_sample_forever(stop))
    try:
        yield
    finally:
        stop.set()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(sampler, timeout=5)
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]
