"""The async Redis client used by API processes (rate limits, health). Dramatiq has its own in workers/."""

from __future__ import annotations

from redis.asyncio import Redis

from linli.settings import get_settings

_client: Redis | None = None


def redis_url() -> str:
    return get_settings().redis_url or "redis://127.0.0.1:6379/0"


def redis_client() -> Redis:
    global _client
    if _client is None:
        _client = Redis.from_url(redis_url(), socket_timeout=2, socket_connect_timeout=2)
    return _client


async def close_redis() -> None:
    global _client
    if _client is not None:
        await _client.aclose()
        _client = None
