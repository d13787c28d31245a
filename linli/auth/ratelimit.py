"""Login throttling in Redis, shared by every API process.

Attempts are counted per phone and failures per client IP, in fixed windows. If Redis is
unreachable we let the attempt through (and log it): locking everybody out because a cache is down would be
worse than a slower attacker.
"""

from __future__ import annotations

import math
from typing import Any

import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError

from linli.errors import DomainError
from linli.redis import redis_client
from linli.settings import get_settings

log = structlog.get_logger("linli.ratelimit")


class TooManyAttempts(DomainError):
    code = "too_many_requests"


def _phone_key(phone: str) -> str:
    return f"{get_settings().redis_namespace}:login-fail:phone:{phone}"


def _ip_key(ip: str) -> str:
    return f"{get_settings().redis_namespace}:login-fail:ip:{ip}"


async def reserve_login_attempt(*, phone: str, ip: str) -> None:
    """Count this attempt against the phone's window before the password is checked, or refuse it (429 with
    Retry-After: when the used-up window ends) if the phone's or the address's failures reached their limit.

    Counting a phone's attempts first is what makes its limit hold for guesses sent at once: counted only once
    found wrong, thirty guesses fired together would all be checked before any was counted. The address counts
    failures only, after the fact: many people signing in at once behind one address (a community centre's
    network) must not lock each other out.
    """
    settings = get_settings()
    phone_key, ip_key = _phone_key(phone), _ip_key(ip)
    try:
        client: Redis = redis_client()
        async with client.pipeline(transaction=True) as pipe:
            _open_window(pipe, phone_key, settings.login_window_seconds)
            pipe.pttl(phone_key)
            pipe.get(ip_key)
            pipe.pttl(ip_key)
            _, phone_count, phone_ms, ip_count, ip_ms = await pipe.execute()
    except (RedisError, OSError) as exc:
        log.warning("login_ratelimit_unavailable", error=str(exc))
        return
    waits_ms = [phone_ms] if phone_count > settings.login_failures_per_phone else []
    if int(ip_count or 0) >= settings.login_failures_per_ip:
        waits_ms.append(ip_ms)
    if waits_ms:
        retry_after = max(1, math.ceil(max(waits_ms) / 1000))
        raise TooManyAttempts(
            "too many failed logins; wait and try again",
            headers={"Retry-After": str(retry_after)},
            retry_after_seconds=retry_after,
        )


def _open_window(pipe: Any, key: str, seconds: int) -> None:
    # SET NX EX then INCR (which keeps the TTL) opens a window on the first attempt; unlike `EXPIRE … NX` it
    # also works on Redis 6.2, the embedded server's version.
    pipe.set(key, 0, ex=seconds, nx=True)
    pipe.incr(key)


async def login_failed(*, ip: str) -> None:
    """A wrong password from `ip` (the phone's attempt was counted already)."""
    try:
        async with redis_client().pipeline(transaction=True) as pipe:
            _open_window(pipe, _ip_key(ip), get_settings().login_window_seconds)
            await pipe.execute()
    except (RedisError, OSError) as exc:
        log.warning("login_ratelimit_unavailable", error=str(exc))


async def login_succeeded(*, phone: str) -> None:
    """The right password was no guess: the phone's window closes."""
    try:
        await redis_client().delete(_phone_key(phone))
    except (RedisError, OSError) as exc:
        log.warning("login_ratelimit_unavailable", error=str(exc))
