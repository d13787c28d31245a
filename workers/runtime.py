"""`linli worker`: Dramatiq worker threads plus the outbox relay and the scheduler in one process.

Scale out by running more of these processes on any host that reaches the same PostgreSQL and Redis.
"""

from __future__ import annotations

import asyncio
import signal

import structlog
from dramatiq import Worker

from linli import db
from linli.settings import get_settings

log = structlog.get_logger("linli.worker")


def run_worker(*, threads: int = 4, relay: bool = True, scheduler: bool = True) -> None:
    import workers.registry  # noqa: F401  (registers every actor)
    from workers.broker import get_broker
    from workers.relay import run_relay
    from workers.schedules import run_scheduler

    broker = get_broker()
    worker = Worker(broker, worker_threads=threads, worker_timeout=1000)
    worker.start()
    log.info("worker_started", threads=threads, queues=sorted(broker.get_declared_queues()))

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await db.start_pool()
        jobs = []
        if relay:
            jobs.append(asyncio.create_task(run_relay(stop, poll_seconds=get_settings().outbox_poll_seconds)))
        if scheduler:
            jobs.append(asyncio.create_task(run_scheduler(stop)))
        await stop.wait()
        await asyncio.gather(*jobs, return_exceptions=True)
        await db.close_pool()

    try:
        asyncio.run(main())
    finally:
        log.info("worker_stopping")
        worker.stop(timeout=10_000)
        broker.close()
