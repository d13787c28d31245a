"""Database lifecycle and the unit of work.

Services never commit: the caller opens `unit_of_work()` and every service (ORM or raw SQL) running inside it
shares its connection and transaction, so several services commit or roll back together. Connections come
from the pool in arrival order (`_turns`), at most one per HTTP request (`request_scope`).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import asyncpg
from asyncpg.transaction import Transaction
from piccolo.engine.postgres import PostgresEngine

from linli.settings import get_settings


class Engine(PostgresEngine):
    """Piccolo's engine, with ORM queries taking their connection the way every other statement does
    (`connection()`: the unit of work's, else the request's, else one from the pool in arrival order)."""

    async def _run_in_pool(self, query: str, args: Sequence[Any] | None = None) -> list[asyncpg.Record]:
        async with connection() as conn:
            return list(await conn.fetch(query, *(args or ())))

    async def _run_in_new_connection(self, query: str, args: Sequence[Any] | None = None) -> Any:
        if _unit.get() is None:  # e.g. Piccolo asking the server's version while the engine is being set up
            return await super()._run_in_new_connection(query, args)
        return await self._run_in_pool(query, args)


def build_engine(dsn: str | None = None) -> PostgresEngine:
    settings = get_settings()
    url = dsn or settings.database_url or "postgresql://postgres@127.0.0.1:5432/linli"
    return Engine(config={"dsn": url}, extensions=())


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


# Who gets the next free pooled connection. asyncpg's pool parks waiters in an `asyncio.Queue`, where a woken
# waiter that loses the race to a newcomer goes back to the END of the line: with more requests in flight than
# connections, some bookings waited 5–10 s while newer ones went through (bench/booking: p99 6 s, max 9.6 s).
# `asyncio.Semaphore` queues strictly in arrival order, so taking one of its permits first, one per connection,
# means the pool itself never makes anyone wait.
_turns: asyncio.Semaphore | None = None


async def start_pool() -> None:
    global _turns
    settings = get_settings()
    db = engine()
    if db.pool is None:
        _turns = asyncio.Semaphore(settings.db_pool_max)
        await db.start_connection_pool(
            min_size=settings.db_pool_min,
            max_size=settings.db_pool_max,
            reset=keep_session,
            # PostgreSQL cancels a runaway statement itself; a client-side `command_timeout` would instead arm and
            # cancel an event-loop timer around every single query.
            server_settings={"statement_timeout": "30s", "application_name": "linli"},
        )


def pool_stats() -> tuple[int, int]:
    """(connections in use, requests waiting for one) of this process, for the metrics sampler."""
    pool = engine().pool
    if pool is None or _turns is None:
        return 0, 0
    waiters = getattr(_turns, "_waiters", None)  # asyncio keeps its queue private; len() of it is the line
    return pool.get_size() - pool.get_idle_size(), len(waiters) if waiters else 0


async def close_pool() -> None:
    global _turns
    db = engine()
    if db.pool is not None:
        await db.close_connection_pool()
        _turns = None


# One pooled connection per HTTP request, taken on first use (`request_scope`): loading the caller and the
# request's unit of work then share it instead of each acquiring and releasing one from the pool.
_request_connection: ContextVar[list[asyncpg.Connection] | None] = ContextVar("linli_request_connection", default=None)


class request_scope:
    """Within it, statements outside a unit of work and the units of work themselves use one connection, taken
    from the pool when first needed and given back at the end. Not for code that runs statements concurrently
    (`gather`) outside a unit of work; requests never do.

    A class rather than an `@asynccontextmanager` generator: every request enters one, and the generator
    machinery costs more than the work it wraps.
    """

    __slots__ = ("_held", "_token")

    async def __aenter__(self) -> None:
        self._held: list[asyncpg.Connection] = []
        self._token = _request_connection.set(self._held)

    async def __aexit__(self, *exc_info: object) -> None:
        _request_connection.reset(self._token)
        for conn in self._held:
            await _give_back(conn)


async def _take() -> asyncpg.Connection:
    db = engine()
    if db.pool is None or _turns is None:
        return await db.get_new_connection()
    turns = _turns
    await turns.acquire()
    try:
        return await db.pool.acquire()
    except BaseException:
        turns.release()
        raise


async def _give_back(conn: asyncpg.Connection) -> None:
    db = engine()
    if db.pool is None:
        await conn.close()
        return
    try:
        await db.pool.release(conn)
    finally:
        if _turns is not None:
            _turns.release()


async def _request_or_new() -> tuple[asyncpg.Connection, bool]:
    """(connection, whether the caller must give it back)."""
    held = _request_connection.get()
    if held is None:
        return await _take(), True
    if not held:
        held.append(await _take())
    return held[0], False


@dataclass(eq=False)
class _Unit:
    """One unit of work: its connection and transaction, both opened by the first statement that needs them."""

    conn: asyncpg.Connection | None = None
    owned: bool = False  # the connection goes back to the pool when the unit ends (else the request holds it)
    tx: Transaction | None = None
    finished: bool = False  # a lone `write_last` statement was the whole unit and has committed


_unit: ContextVar[_Unit | None] = ContextVar("linli_unit_of_work", default=None)


class unit_of_work:
    """One transaction shared by every service called inside it; commits on success, rolls back on error.

    Nested use joins the outer unit of work. The transaction opens with the first statement, so a unit that
    turns out to need none costs nothing; and a unit made only of plain reads (`read_row`) and one final write
    (`write_last`) sends no BEGIN or COMMIT at all: PostgreSQL makes a single statement atomic by itself.
    (A class, like `request_scope`, because every request enters one.)
    """

    __slots__ = ("_token", "_unit")

    async def __aenter__(self) -> None:
        self._unit: _Unit | None = None
        if _unit.get() is None:
            self._unit = _Unit()
            self._token = _unit.set(self._unit)

    async def __aexit__(self, exc_type: type[BaseException] | None, *exc_info: object) -> None:
        unit = self._unit
        if unit is None:  # joined an outer unit of work, which decides
            return
        try:
            if unit.tx is not None:
                if exc_type is not None:
                    with contextlib.suppress(Exception):
                        await unit.tx.rollback()
                else:
                    # A COMMIT can fail too (a deferred constraint, a serialization failure): the error
                    # propagates, and the connection still goes back below.
                    await unit.tx.commit()
        finally:
            _unit.reset(self._token)
            if unit.owned and unit.conn is not None:
                await _give_back(unit.conn)


async def _connect(unit: _Unit) -> asyncpg.Connection:
    if unit.finished:
        raise RuntimeError("this unit of work already ended with its write_last statement")
    if unit.conn is None:
        unit.conn, unit.owned = await _request_or_new()
    return unit.conn


async def _transaction(unit: _Unit) -> asyncpg.Connection:
    """The unit's connection with its transaction open."""
    conn = await _connect(unit)
    if unit.tx is None:
        tx = conn.transaction()
        await tx.start()
        unit.tx = tx
    return conn


@asynccontextmanager
async def connection() -> AsyncIterator[asyncpg.Connection]:
    """The current unit of work's connection (transaction open), else the request's, else a pooled one."""
    unit = _unit.get()
    if unit is not None:
        yield await _transaction(unit)
        return
    conn, owned = await _request_or_new()
    try:
        yield conn
    finally:
        if owned:
            await _give_back(conn)


def _open() -> asyncpg.Connection | None:
    # The fast path of every statement inside a unit of work whose transaction is open: no context manager.
    unit = _unit.get()
    return unit.conn if unit is not None and unit.tx is not None else None


async def fetch(sql: str, *args: Any) -> list[asyncpg.Record]:
    if (conn := _open()) is not None:
        return list(await conn.fetch(sql, *args))
    async with connection() as conn:
        return list(await conn.fetch(sql, *args))


async def fetchrow(sql: str, *args: Any) -> asyncpg.Record | None:
    if (conn := _open()) is not None:
        return await conn.fetchrow(sql, *args)
    async with connection() as conn:
        return await conn.fetchrow(sql, *args)


async def fetchval(sql: str, *args: Any) -> Any:
    if (conn := _open()) is not None:
        return await conn.fetchval(sql, *args)
    async with connection() as conn:
        return await conn.fetchval(sql, *args)


async def execute(sql: str, *args: Any) -> str:
    if (conn := _open()) is not None:
        return await conn.execute(sql, *args)
    async with connection() as conn:
        return await conn.execute(sql, *args)


async def read_row(sql: str, *args: Any) -> asyncpg.Record | None:
    """`fetchrow` for a plain read: it takes no locks and writes nothing.

    In a unit of work whose transaction is not open yet, it runs on the unit's connection without opening it.
    That reads exactly what it would read as the transaction's first statement: under READ COMMITTED every
    statement takes a fresh snapshot, and a plain read leaves no locks behind to keep.
    """
    unit = _unit.get()
    if unit is None or unit.tx is not None:
        return await fetchrow(sql, *args)
    return await (await _connect(unit)).fetchrow(sql, *args)


async def write_last(sql: str, *args: Any) -> asyncpg.Record | None:
    """`fetchrow` for the last statement of the unit of work.

    If no statement before it needed the transaction (only `read_row`s ran), it runs alone, atomic by itself,
    without the BEGIN and COMMIT round trips, and row locks it takes are released the moment it ends rather
    than a round trip later. The unit of work is then complete: any further statement in it is a bug and
    raises, and an error raised later can no longer undo it. Otherwise it is an ordinary statement of the open
    transaction.
    """
    unit = _unit.get()
    if unit is None or unit.tx is not None:
        return await fetchrow(sql, *args)
    row = await (await _connect(unit)).fetchrow(sql, *args)
    unit.finished = True
    return row


async def migrate() -> None:
    """Apply every app's migrations in dependency order."""
    import contextlib
    import io
    import sys

    from piccolo.apps.migrations.commands.forwards import run_forwards

    # Piccolo prints a table per app on every run; a start-up shows it only when something went wrong.
    report = io.StringIO()
    # Every API replica migrates as it starts, beside a release's `linli migrate` job: one at a time (two at
    # once both create Piccolo's `migration` table, and one fails). The lock is the session's: closing the
    # connection releases it, however the run ends.
    guard = await asyncpg.connect(engine().config["dsn"])
    try:
        await guard.execute("SELECT pg_advisory_lock(hashtext('linli.migrate'))")
        with contextlib.redirect_stdout(report):
            result = await run_forwards("all")
    finally:
        await guard.close()
    if not result.success:
        sys.stderr.write(report.getvalue())
        raise RuntimeError(f"migrations failed: {result.message}")
