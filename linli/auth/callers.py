"""Who is calling, without a database round trip on every request, and still revoked at once.

Each API process keeps the users it has recently authenticated. A trigger on `users` NOTIFYs `linli_users` with
the id of every updated or deleted row (and `*` on TRUNCATE); `keep_fresh` LISTENs on a dedicated connection and
drops those entries the moment the change commits, so a demoted admin or a deleted account stops working on
every process at once. User rows change rarely, so the NOTIFY costs nothing on the hot path.

The cache is only used while that connection is known to be alive (checked every few seconds); otherwise every
request reads the database as before. A read that races an invalidation is not cached (a generation counter),
and entries also expire after `ttl_seconds` as a last resort.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any
from uuid import UUID

import asyncpg
import structlog

from linli import db

CHANNEL = "linli_users"
log = structlog.get_logger("linli.callers")


class CallerCache:
    def __init__(self, *, ttl_seconds: float = 60.0, capacity: int = 50_000) -> None:
        self._entries: dict[UUID, tuple[Any, float]] = {}
        self._ttl = ttl_seconds
        self._capacity = capacity
        self.generation = 0
        self.live = False

    def get(self, user_id: UUID) -> Any | None:
        if not self.live:
            return None
        hit = self._entries.get(user_id)
        if hit is None or hit[1] < time.monotonic():
            return None
        return hit[0]

    def put(self, user_id: UUID, user: Any, *, generation: int) -> None:
        """Remember `user`, read when the cache was at `generation`; skipped if anything changed since."""
        if not self.live or generation != self.generation:
            return
        if len(self._entries) >= self._capacity:
            self._entries.clear()
        self._entries[user_id] = (user, time.monotonic() + self._ttl)

    def forget(self, user_id: UUID | None = None) -> None:
        """Drop one user (or everyone, with None) and invalidate reads in flight."""
        self.generation += 1
        if user_id is None:
            self._entries.clear()
        else:
            self._entries.pop(user_id, None)

    def set_live(self, live: bool) -> None:
        self.forget()
        self.live = live


CALLERS = CallerCache()


def _on_notify(_conn: object, _pid: int, _channel: str, payload: str) -> None:
    if payload == "*":
        CALLERS.forget()
        return
    try:
        CALLERS.forget(UUID(payload))
    except ValueError:
        CALLERS.forget()


async def keep_fresh(stop: asyncio.Event, *, check_every_seconds: float = 5.0) -> None:
    """LISTEN for user changes until `stop`; the cache is live only while the listening connection answers."""
    while not stop.is_set():
        conn: asyncpg.Connection | None = None
        try:
            conn = await asyncpg.connect(**db.engine().config, server_settings={"application_name": "linli-callers"})
            await conn.add_listener(CHANNEL, _on_notify)
            conn.add_termination_listener(lambda _c: CALLERS.set_live(False))
            CALLERS.set_live(True)  # only now: every change committed from here on is heard
            while not stop.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=check_every_seconds)
                await asyncio.wait_for(conn.fetchval("SELECT 1"), timeout=check_every_seconds)
        except Exception as exc:  # whatever broke the connection (asyncpg raises several kinds): start over
            log.warning("caller_cache_listener_lost", error=repr(exc))
        finally:
            CALLERS.set_live(False)
            if conn is not None and not conn.is_closed():
                with contextlib.suppress(Exception):
                    await conn.close()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=1.0)
