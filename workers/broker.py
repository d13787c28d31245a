"""The Dramatiq broker, configured once per process from settings."""

from __future__ import annotations

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import AsyncIO

from linli.redis import redis_url
from linli.settings import get_settings

_broker: RedisBroker | None = None


def get_broker() -> RedisBroker:
    global _broker
    if _broker is None:
        _broker = RedisBroker(
            url=redis_url(),
            namespace=f"{get_settings().redis_namespace}-dramatiq",
            socket_timeout=5,
            socket_connect_timeout=5,
            heartbeat_timeout=get_settings().worker_heartbeat_seconds * 1000,
            # Dead workers' messages are handed back during the broker's "maintenance", which Dramatiq runs on
            # 1 command in 1,000: with a few idle fetches a second, minutes after the heartbeat ran out. One in
            # ten brings that within seconds; each run is a couple of sorted-set reads when nobody died.
            maintenance_chance=100_000,
        )
        _broker.add_middleware(AsyncIO())
        dramatiq.set_broker(_broker)
    return _broker


def broker_run_id() -> str:
    """The Redis server's run_id: a new one after every restart, when what it held in memory may be gone."""
    return str(get_broker().client.info("server")["run_id"])
