"""Login throttling in Redis, shared by every API process.

Attempts are counted per phone and per client IP in fixed windows (a successful one is given back). If Redis is
unreachable we let the attempt through (and log it): locking everybody out because a cache is down would be
worse than a slower attacker.
"""

from __future__ import annotations

import math

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


async def reserve_login_attempt(*, phone: str, ip: str) -> None:
    """Count this attempt against the phone's and the address's windows before the password is checked, or
    refuse it (429 with Retry-After: when the window that is used up ends).

    Counting first is what makes the limit hold for attempts sent at once: had they been counted only once
    their password was found wrong, thirty guesses fired together would all be checked before any was counted.
    """
    settings = get_settings()
    phone_key, ip_key = _keys(phone, ip)
    try:
        client: Redis = redis_client()
        async with client.pipeline(transaction=True) as pipe:
            for key in (phone_key, ip_key):
                # SET NX EX then INCR (which keeps the TTL) opens a window on the first attempt; unlike
                # `EXPIRE … NX` it also works on Redis 6.2, the embedded server's version.
                pipe.set(key, 0, ex=settings.login_window_seconds, nx=True)
                pipe.incr(key)
            pipe.pttl(phone_key)
            pipe.pttl(ip_key)
            _, phone_count, _, ip_count, phone_ms, ip_ms = await pipe.execute()
    except (RedisError, OSError) as exc:
        log.warning("login_ratelimit_unavailable", error=str(exc))
        return
    waits_ms = [phone_ms] if phone_count > settings.login_failures_per_phone else []
    if ip_count > settings.login_failures_per_ip:
        waits_ms.append(ip_ms)
    if waits_ms:
        retry_after = max(1, math.ceil(max(waits_ms) / 1000))
        raise TooManyAttempts(
            "too many failed logins; wait and try again",
            headers={"Retry-After": str(retry_after)},
            retry_after_seconds=retry_after,
        )


async def login_succeeded(*, phone: str, ip: str) -> None:
    """The right password was no guess: the phone's window closes and the address gets its attempt back."""
    phone_key, ip_key = _keys(phone, ip)
    try:
        async with redis_client().pipeline(transaction=True) as pipe:
            pipe.delete(phone_key)
            pipe.decr(ip_key)
            await pipe.execute()
    except (RedisError, OSError) as exc:
        log.warning("login_ratelimit_unavailable", error=str(exc))
