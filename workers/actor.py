"""Our thin actor decorator (after Polar's): registers a Dramatiq actor and returns the plain coroutine.

Tests await the coroutine directly; workers run it through Dramatiq. Actors take ids (strings), never objects.
`topics` subscribes the actor to outbox events; it is then called as `fn(event_id, payload)`.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Any, ParamSpec, TypeVar

import dramatiq

from linli import db
from workers.broker import get_broker

P = ParamSpec("P")
R = TypeVar("R")

# topic -> actor names, read by the relay.
SUBSCRIPTIONS: dict[str, list[str]] = defaultdict(list)

_pool_lock: asyncio.Lock | None = None


async def _ensure_pool() -> None:
    # Workers run actors on Dramatiq's event loop thread; the pool must be created on that loop.
    global _pool_lock
    if db.engine().pool is not None:
        return
    if _pool_lock is None:
        _pool_lock = asyncio.Lock()
    async with _pool_lock:
        await db.start_pool()


def actor(
    *,
    name: str,
    queue_name: str = "default",
    max_retries: int = 10,
    time_limit_ms: int = 10 * 60 * 1000,
    topics: tuple[str, ...] = (),
    **options: Any,
) -> Callable[[Callable[P, Awaitable[R]]], Callable[P, Awaitable[R]]]:
    def decorate(fn: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
        async def run(*args: Any, **kwargs: Any) -> None:
            await _ensure_pool()
            # What an actor returns is for the tests that await it directly; through Dramatiq nobody reads it (no
            # Results middleware), and a value returned there is logged as a warning on every run.
            await fn(*args, **kwargs)

        run.__name__ = fn.__name__
        dramatiq.actor(  # type: ignore[call-overload]
            run,
            actor_name=name,
            queue_name=queue_name,
            max_retries=max_retries,
            time_limit=time_limit_ms,
            broker=get_broker(),
            **options,
        )
        for topic in topics:
            if name not in SUBSCRIPTIONS[topic]:
                SUBSCRIPTIONS[topic].append(name)
        fn.actor_name = name  # type: ignore[attr-defined]
        return fn

    return decorate


def send(actor_name: str, *args: Any, message_id: str | None = None) -> None:
    """Enqueue a call to a registered actor by name (raises if Redis is unreachable)."""
    broker = get_broker()
    target = broker.get_actor(actor_name)
    message = target.message(*args)
    if message_id is not None:
        message = message.copy(message_id=message_id)
    broker.enqueue(message)
