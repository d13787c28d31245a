"""Our thin actor decorator (after Polar's): registers a Dramatiq actor and returns the plain coroutine.

Tests await the coroutine directly; workers run it through Dramatiq. Actors take ids (strings), never objects.
`topics` subscribes the actor to outbox events; it is then called as `fn(event_id, payload)`.
"""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Any, ParamSpec, TypeVar
from uuid import UUID

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
            if topics:
                await _delivered(args[0], actor_name=name, topics=topics)

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


# The actor appends itself to the event's `delivered_actors`, once; the event is delivered when every actor
# subscribed to its topic is there ($3: topic -> subscribers, for the topics this actor takes).
_DELIVERED = (
    "UPDATE outbox_events SET delivered_actors = array_append(delivered_actors, $2::varchar),"
    " delivered_at = coalesce(delivered_at, CASE WHEN array_append(delivered_actors, $2::varchar)"
    "  @> ARRAY(SELECT jsonb_array_elements_text($3::jsonb -> topic))::varchar[] THEN now() END)"
    " WHERE id = $1 AND NOT ($2 = ANY(delivered_actors))"
)


async def _delivered(event_id: Any, *, actor_name: str, topics: tuple[str, ...]) -> None:
    """Record that `actor_name` has done its part for outbox event `event_id`, after its effect committed.

    A crash between the two only means the event may be sent again (workers.relay.redeliver_once) to an actor
    that is idempotent anyway; a message sent by other means than the outbox carries no event id to mark."""
    try:
        event = UUID(str(event_id))
    except ValueError:
        return
    await db.execute(_DELIVERED, event, actor_name, json.dumps({t: SUBSCRIPTIONS[t] for t in topics}))


def send(actor_name: str, *args: Any, message_id: str | None = None) -> None:
    """Enqueue a call to a registered actor by name (raises if Redis is unreachable)."""
    broker = get_broker()
    target = broker.get_actor(actor_name)
    message = target.message(*args)
    if message_id is not None:
        message = message.copy(message_id=message_id)
    broker.enqueue(message)
