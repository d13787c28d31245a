"""Database lifecycle and the unit of work.

Services never commit: the caller opens `unit_of_work()` and every service (ORM or raw SQL) running inside it
shares its connection and transaction, so several services commit or roll back together.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import Any

import asyncpg
from piccolo.engine.postgres import PostgresEngine, PostgresTransaction

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
            min_size=settings.db_pool_min,
            max_size=settings.db_pool_max,
            reset=keep_session,
            # PostgreSQL cancels a runaway statement itself; a client-side `command_timeout` would instead arm and
            # cancel an event-loop timer around every single query.
            server_settings={"statement_timeout": "30s", "application_name": "linli"},
        )


async def close_pool() -> None:
    db = engine()
    if db.pool is not None:
        await db.close_connection_pool()


# One pooled connection per HTTP request, taken on first use (`request_scope`): loading the caller and the
# request's unit of work then share it instead of each acquiring and releasing one from the pool.
_request_connection: ContextVar[list[asyncpg.Connection] | None] = ContextVar("linli_request_connection", default=None)


@asynccontextmanager
async def request_scope() -> AsyncIterator[None]:
    """Within it, statements outside a unit of work and the units of work themselves use one connection, taken
    from the pool when first needed and given back at the end. Not for code that runs statements concurrently
    (`gather`) outside a unit of work; requests never do."""
    held: list[asyncpg.Connection] = []
    token = _request_connection.set(held)
    try:
        yield
    finally:
        _request_connection.reset(token)
        for conn in held:
            await _give_back(conn)


async def _take() -> asyncpg.Connection:
    db = engine()
    return await db.pool.acquire() if db.pool is not None else await db.get_new_connection()


async def _give_back(conn: asyncpg.Connection) -> None:
    db = engine()
    if db.pool is not None:
        await db.pool.release(conn)
    else:
        await conn.close()


async def _request_or_new() -> tuple[asyncpg.Connection, bool]:
    """(connection, whether the caller must give it back)."""
    held = _request_connection.get()
    if held is None:
        return await _take(), True
    if not held:
        held.append(await _take())
    return held[0], False


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
    conn, owned = await _request_or_new()
    # Piccolo's transaction object, so ORM queries inside join it; entered by hand to use this connection.
    tx = PostgresTransaction(engine=db)
    tx.connection = conn
    tx.transaction = conn.transaction()
    try:
        await tx.begin()
        tx.context = db.current_transaction.set(tx)
        try:
            try:
                yield conn
            except BaseException:
                with contextlib.suppress(Exception):
                    await tx.rollback()
                raise
            # A COMMIT can fail too (a deferred constraint, a serialization failure): the error propagates, and
            # the connection still goes back below.
            await tx.commit()
        finally:
            db.current_transaction.reset(tx.context)
    finally:
        if owned:
            await _give_back(conn)


@asynccontextmanager
async def connection() -> AsyncIterator[asyncpg.Connection]:
    """The current unit of work's connection, else the request's, else a pooled one for a single statement."""
    tx = engine().current_transaction.get()
    if tx is not None:
        yield tx.connection
        return
    conn, owned = await _request_or_new()
    try:
        yield conn
    finally:
        if owned:
            await _give_back(conn)


def _current() -> asyncpg.Connection | None:
    # The fast path of every statement inside a unit of work: no context manager, no pool.
    tx = engine().current_transaction.get()
    return tx.connection if tx is not None else None


async def fetch(sql: str, *args: Any) -> list[asyncpg.Record]:
    if (conn := _current()) is not None:
        return list(await conn.fetch(sql, *args))
    async with connection() as conn:
        return list(await conn.fetch(sql, *args))


async def fetchrow(sql: str, *args: Any) -> asyncpg.Record | None:
    if (conn := _current()) is not None:
        return await conn.fetchrow(sql, *args)
    async with connection() as conn:
        return await conn.fetchrow(sql, *args)


async def fetchval(sql: str, *args: Any) -> Any:
    if (conn := _current()) is not None:
        return await conn.fetchval(sql, *args)
    async with connection() as conn:
        return await conn.fetchval(sql, *args)


async def execute(sql: str, *args: Any) -> str:
    if (conn := _current()) is not None:
        return await conn.execute(sql, *args)
    async with connection() as conn:
        return await conn.execute(sql, *args)


async def migrate() -> None:
    """Apply every app's migrations in dependency order."""
    from piccolo.apps.migrations.commands.forwards import run_forwards

    result = await run_forwards("all")
    if not result.success:
        raise RuntimeError(f"migrations failed: {result.message}")
