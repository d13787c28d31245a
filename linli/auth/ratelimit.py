"""Login throttling in Redis, shared by every API process.

Failures are counted per phone and per client IP in fixed windows. If Redis is unreachable we let the attempt
through (and log it): locking everybody out because a cache is down would be worse than a slower attacker.
"""

from __future__ import annotations

import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError

from linli.errors import DomainError
from linli.redis import redis_client
from linli.settings import get_settings

log = structlog.get_logger("linli.ratelimit")


class TooManyAttempts(DomainError):
    code = "too_many_requests"


def _keys(phone: str, ip: str) -> tuple[str, str]:
    ns = get_settings().redis_namespace
    return f"{ns}:login-fail:phone:{phone}", f"{ns}:login-fail:ip:{ip}"


async def check_login_allowed(*, phone: str, ip: str) -> None:
    settings = get_settings()
    phone_key, ip_key = _keys(phone, ip)
    try:
        client: Redis = redis_client()
        phone_count, ip_count = await client.mget(phone_key, ip_key)
    except (RedisError, OSError) as exc:
        log.warning("login_ratelimit_unavailable", error=str(exc))
        return
    if int(phone_count or 0) >= settings.login_failures_per_phone or int(ip_count or 0) >= (
        settings.login_failures_per_ip
    ):
        raise TooManyAttempts("too many failed logins; wait and try again")


async def record_login_failure(*, phone: str, ip: str) -> None:
    settings = get_settings()
    try:
        client = redis_client()
        async with client.pipeline(transaction=True) as pipe:
            for key in _keys(phone, ip):
                # SET NX EX then INCR (which keeps the TTL) opens a window on the first failure; unlike
                # `EXPIRE … NX` it also works on Redis 6.2, the embedded server's version.
                pipe.set(key, 0, ex=settings.login_window_seconds, nx=True)
                pipe.incr(key)
            await pipe.execute()
    except (RedisError, OSError) as exc:
        log.warning("login_ratelimit_unavailable", error=str(exc))


async def clear_login_failures(*, phone: str) -> None:
    try:
        await redis_client().delete(_keys(phone, "-")[0])
    except (RedisError, OSError) as exc:
        log.warning("login_ratelimit_unavailable", error=str(exc))
