"""`linli worker`: Dramatiq worker threads plus the outbox relay and the scheduler in one process.

Scale out by running more of these processes on any host that reaches the same PostgreSQL and Redis.
The relay and the scheduler run on Dramatiq's own event loop (the AsyncIO middleware's thread) so that every
coroutine of the process shares one loop and one connection pool.
"""

from __future__ import annotations

import asyncio
import os
import signal
import threading
from typing import Any

import structlog
from dramatiq import Worker
from dramatiq.asyncio import get_event_loop_thread

from linli.settings import get_settings

log = structlog.get_logger("linli.worker")


async def _background(stopping: threading.Event, *, relay: bool, scheduler: bool) -> None:
    from workers.actor import _ensure_pool
    from workers.relay import run_relay
    from workers.schedules import run_scheduler

    await _ensure_pool()
    stop = asyncio.Event()

    async def watch() -> None:
        # `stopping` is set from a signal handler on another thread; hand it over to this loop.
        await asyncio.to_thread(stopping.wait)
        stop.set()

    jobs: list[Any] = [watch()]
    if relay:
        jobs.append(run_relay(stop, poll_seconds=get_settings().outbox_poll_seconds))
    if scheduler:
        jobs.append(run_scheduler(stop))
    await asyncio.gather(*jobs)


def run_worker(*, threads: int = 4, relay: bool = True, scheduler: bool = True) -> None:
    """Run the actors declared so far (the caller imports their modules first: `server.registry`), the relay and
    the scheduler until SIGTERM/SIGINT."""
    from workers.broker import get_broker

    broker = get_broker()
    settings = get_settings()
    metrics_server = None
    if settings.worker_metrics_port:
        from workers.metrics import enable_prometheus

        metrics_server = enable_prometheus(broker, host=settings.worker_metrics_host, port=settings.worker_metrics_port)
    worker = Worker(broker, worker_threads=threads, worker_timeout=1000)
    worker.start()
    log.info("worker_started", threads=threads, queues=sorted(broker.get_declared_queues()))

    stopping = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stopping.set())

    loop_thread = get_event_loop_thread()
    assert loop_thread is not None, "the AsyncIO middleware must be installed"
    background = asyncio.run_coroutine_threadsafe(
        _background(stopping, relay=relay, scheduler=scheduler), loop_thread.loop
    )
    # Started by `linli serve`: stop when that parent goes away, however it died.
    parent_pid = int(os.environ.get("LINLI_PARENT_PID", "0") or 0)
    try:
        while not stopping.wait(0.5):
            if parent_pid and os.getppid() != parent_pid:
                log.warning("parent_gone", parent_pid=parent_pid)
                stopping.set()
                break
            if background.done():
                background.result()  # surface a crash of the relay/scheduler
                break
        background.result(timeout=15)
    finally:
        log.info("worker_stopping")
        worker.stop(timeout=10_000)
        broker.close()
        if metrics_server is not None:
            metrics_server.close()
