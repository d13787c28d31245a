"""A worker's Prometheus metrics: Dramatiq's own Prometheus middleware, served on the worker's own port.

Dramatiq's middleware counts messages, errors, retries, dead letters, messages in progress and durations per
queue and actor (`dramatiq_messages_total`, `dramatiq_message_duration_milliseconds`, …). Its exposition server
is normally started by the `dramatiq` command as a forked process; `linli worker` runs `dramatiq.Worker` itself,
so it boots the middleware and serves the same numbers with prometheus_client's own HTTP server, on a thread
it can stop.

The middleware keeps its values in prometheus_client's multiprocess files, in a directory of this process's
own that `prepare_directory` makes before anything imports prometheus_client (the values are file-backed only if
the directory is set at that import) and `MetricsServer.close` removes.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog
from dramatiq import Broker

log = structlog.get_logger("linli.worker")


def metrics_directory(data_dir: Path) -> Path:
    """This process's own: workers on one host (some only failing to bind the port) never share files."""
    return data_dir / "prometheus" / f"worker-{os.getpid()}"


def prepare_directory(directory: Path) -> None:
    """Empty `directory` and point Dramatiq's middleware and prometheus_client at it (before either is imported).

    A worker started by `linli serve` inherits the API's directory in PROMETHEUS_MULTIPROC_DIR: replaced here,
    so the worker's series never mix into the API's /metrics."""
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    os.environ["dramatiq_prom_db"] = str(directory)  # noqa: SIM112  (Dramatiq reads this lower-case name)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(directory)


@dataclass
class MetricsServer:
    server: Any | None  # prometheus_client's WSGI server; None when the port could not be bound
    directory: Path

    def close(self) -> None:
        if self.server is not None:
            self.server.shutdown()
        shutil.rmtree(self.directory, ignore_errors=True)


def enable_prometheus(broker: Broker, *, host: str, port: int) -> MetricsServer:
    """Add Dramatiq's Prometheus middleware to `broker` and serve its metrics on host:port, to be closed when
    the worker stops. A port that cannot be bound is logged, not fatal: a worker without metrics still works."""
    from dramatiq.middleware.prometheus import DB_PATH, Prometheus
    from prometheus_client import CollectorRegistry, multiprocess, start_http_server

    middleware = Prometheus()
    broker.add_middleware(middleware)
    # What the `dramatiq` command does for its processes at boot: create the counters in the shared files.
    middleware.after_process_boot(broker)
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=DB_PATH)  # type: ignore[no-untyped-call]
    directory = Path(DB_PATH)
    try:
        server, _thread = start_http_server(port, addr=host, registry=registry)
    except OSError as exc:
        log.warning("worker_metrics_unavailable", host=host, port=port, error=str(exc))
        return MetricsServer(server=None, directory=directory)
    log.info("worker_metrics_serving", url=f"http://{host}:{port}/metrics")
    return MetricsServer(server=server, directory=directory)
