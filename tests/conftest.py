"""Fixtures: a fresh database per run, clean tables per test, an in-process client and real processes."""

from __future__ import annotations

import asyncio
import itertools
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from tests.browser import chromium, pages  # noqa: F401  (the browser stories' fixtures)
from tests.harness import ServerProcess, Services, discover_services, live_api, unique_name

_SERVICES: Services = discover_services()
_DB_NAME = unique_name("linli_test")
_NAMESPACE = unique_name("linli-test")

# The environment must be set before linli reads its settings.
os.environ.update(
    {
        "DATABASE_URL": _SERVICES.dsn_for(_DB_NAME),
        "REDIS_URL": _SERVICES.redis_url,
        "LINLI_REDIS_NAMESPACE": _NAMESPACE,
        "LINLI_SECRET_KEY": "test-secret-" + "x" * 40,
        "LINLI_DATA_DIR": str(_SERVICES.tmp / "data"),
        "LINLI_OUTBOX_POLL_SECONDS": "0.2",
        "LINLI_LOG_LEVEL": "WARNING",
        # Live servers, workers and the test process share one PostgreSQL: keep each pool small.
        "LINLI_DB_POOL_MAX": "8",
        # Cheap password hashing: the suite signs up hundreds of people (production keeps the RFC profile).
        "LINLI_ARGON2_TIME_COST": "1",
        "LINLI_ARGON2_MEMORY_KIB": "1024",
        "LINLI_ARGON2_PARALLELISM": "1",
    }
)

from linli import db  # noqa: E402
from linli.settings import reload_settings  # noqa: E402

reload_settings()
db.configure(os.environ["DATABASE_URL"])


def process_env() -> dict[str, str]:
    return dict(os.environ)


@pytest.fixture(scope="session", autouse=True)
async def database() -> AsyncIterator[None]:
    admin = await asyncpg.connect(_SERVICES.admin_dsn)
    await admin.execute(f'CREATE DATABASE "{_DB_NAME}"')
    try:
        await db.migrate()
        yield
    finally:
        await db.close_pool()
        if admin.is_closed():  # the server was restarted under the run (chaos/test_3_postgres_restart.py)
            admin = await asyncpg.connect(_SERVICES.admin_dsn)
        await admin.execute(f'DROP DATABASE IF EXISTS "{_DB_NAME}" WITH (FORCE)')
        await admin.close()


_TABLES: list[str] = []


async def _truncate_all() -> None:
    """Empty every table a test wrote to. Truncating only the non-empty ones keeps isolation cheap."""
    if not _TABLES:
        rows = await db.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'migration'"
        )
        _TABLES.extend(r["tablename"] for r in rows)
    probe = " UNION ALL ".join(f"SELECT '{t}' AS t WHERE EXISTS (SELECT 1 FROM \"{t}\")" for t in _TABLES)
    dirty = [r["t"] for r in await db.fetch(probe)]
    if dirty:
        await db.execute(f"TRUNCATE {', '.join(dirty)} RESTART IDENTITY CASCADE")


async def _flush_redis() -> None:
    from linli.redis import redis_client

    client = redis_client()
    keys = [k async for k in client.scan_iter(match=f"{_NAMESPACE}*", count=1000)]
    if keys:
        await client.delete(*keys)


@pytest.fixture(autouse=True)
async def clean_state(database: None) -> AsyncIterator[None]:
    await db.start_pool()
    await _truncate_all()
    await _flush_redis()
    yield


@pytest.fixture(scope="session")
async def app() -> Any:
    from server.app import create_app

    return create_app()


@pytest.fixture
async def client(app: Any) -> AsyncIterator[Any]:
    import httpx

    # The app runs on the test's own event loop (sharing the session's pool); the lifespan is not needed.
    transport = httpx.ASGITransport(app=app, client=("10.1.2.3", 5555))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver.local") as c:
        yield c


@pytest.fixture(scope="session")
def log_dir() -> Path:
    path = _SERVICES.tmp / "logs"
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def live_server(database: None, log_dir: Path) -> Iterator[str]:
    """Two real API processes behind one port (uvicorn workers), sharing the test database."""
    with live_api(process_env(), log_dir, workers=2) as base:
        yield base


@pytest.fixture
def start_worker(log_dir: Path) -> Iterator[Any]:
    """Starts real `linli worker` processes on demand; all are stopped after the test."""
    procs: list[ServerProcess] = []
    counter = itertools.count()

    def start(env: dict[str, str] | None = None) -> ServerProcess:
        proc = ServerProcess(["worker", "--threads", "2"], env or process_env(), f"worker-{next(counter)}", log_dir)
        procs.append(proc)
        return proc

    yield start
    for p in procs:
        p.stop()


_phones = itertools.count(1)


def next_phone() -> str:
    return f"139{os.getpid() % 10000:04d}{next(_phones):04d}"


async def eventually(check: Any, *, timeout: float = 20.0, interval: float = 0.1) -> Any:
    """Poll an async `check` until it returns something truthy (for effects of real worker processes)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = await check()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {timeout}s (last: {result!r})")
        await asyncio.sleep(interval)


@pytest.fixture
def private_redis() -> Iterator[Any]:
    from tests.harness import PrivateRedis

    redis = PrivateRedis(_SERVICES.tmp / unique_name("redis"))
    redis.start()
    yield redis
    redis.stop()
