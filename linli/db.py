"""Database lifecycle and the unit of work.

Services never commit: the caller opens `unit_of_work()` and every service (ORM or raw SQL) running inside it
shares its connection and transaction, so several services commit or roll back together.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
from piccolo.engine.postgres import PostgresEngine

from linli.settings import get_settings


def build_engine(dsn: str | None = None) -> PostgresEngine:
    settings = get_settings()
    url = dsn or settings.database_url or "postgresql://postgres@127.0.0.1:5432/linli"
    return PostgresEngine(config={"dsn": url}, extensions=())


@functools.cache
def engine() -> PostgresEngine:
    """The one engine of this process (from PICCOLO_CONF), looked up once: the lookup costs more than a query."""
    from piccolo.engine.finder import engine_finder

    found = engine_finder()
    assert isinstance(found, PostgresEngine)
    return found


def configure(dsn: str) -> None:
    """Point the engine at `dsn` (before the pool starts): used by the CLI and the tests."""
    engine().config = {"dsn": dsn}


async def keep_session(conn: asyncpg.Connection) -> None:
    """Pool release hook: asyncpg has already rolled back any open transaction; nothing else needs resetting.

    Linli never changes session state on pooled connections (no SET, no session-level advisory locks, no LISTEN;
    every lock is transaction-scoped), so asyncpg's default `RESET ALL; UNLISTEN *; …` would only cost one more
    round trip on every release — two per authenticated request.
    """


async def start_pool() -> None:
    settings = get_settings()
    db = engine()
    if db.pool is None:
        await db.start_connection_pool(
            min_size=settings.db_pool_min, max_size=settings.db_pool_max, command_timeout=30, reset=keep_session
        )


async def close_pool() -> None:
    db = engine()
    if db.pool is not None:
        await db.close_connection_pool()


@asynccontextmanager
async def unit_of_work() -> AsyncIterator[asyncpg.Connection]:
    """One transaction shared by every service called inside it; commits on success, rolls back on error.

    Nested use joins the outer unit of work.
    """
    db = engine()
    outer = db.current_transaction.get()
    if outer is not None:
        yield outer.connection
        return
    tx = db.transaction()
    await tx.__aenter__()  # acquires a connection, BEGINs, becomes the current transaction
    try:
        try:
            yield tx.connection
        except BaseException:
            with contextlib.suppress(Exception):
                await tx.rollback()
            raise
        # A COMMIT can fail too (a deferred constraint, a serialization failure): the error propagates, and the
        # connection still goes back to the pool below.
        await tx.commit()
    finally:
        # Piccolo's own exit skips this when COMMIT raises, leaking the connection and the context.
        db.current_transaction.reset(tx.context)
        if db.pool is not None:
            await db.pool.release(tx.connection)
        else:
            await tx.connection.close()


@asynccontextmanager
async def connection() -> AsyncIterator[asyncpg.Connection]:
    """The current unit of work's connection, or a pooled one for a single statement."""
    db = engine()
    tx = db.current_transaction.get()
    if tx is not None:
        yield tx.connection
        return
    if db.pool is not None:
        async with db.pool.acquire() as conn:
            yield conn
        return
    conn = await db.get_new_connection()
    try:
        yield conn
    finally:
        await conn.close()


async def fetch(sql: str, *args: Any) -> list[asyncpg.Record]:
    async with connection() as conn:
        return list(await conn.fetch(sql, *args))


async def fetchrow(sql: str, *args: Any) -> asyncpg.Record | None:
    async with connection() as conn:
        return await conn.fetchrow(sql, *args)


async def fetchval(sql: str, *args: Any) -> Any:
    async with connection() as conn:
        return await conn.fetchval(sql, *args)


async def execute(sql: str, *args: Any) -> str:
    async with connection() as conn:
        return await conn.execute(sql, *args)


async def migrate() -> None:
    """Apply every app's migrations in dependency order."""
    from piccolo.apps.migrations.commands.forwards import run_forwards

    result = await run_forwards("all")
    if not result.success:
        raise RuntimeError(f"migrations failed: {result.message}")
