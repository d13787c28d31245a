"""7. Abuse: password guessing, oversized bodies, huge strings, and connections that never finish their request.

Guessing is throttled per phone and per address across both API processes (429 with Retry-After, and guesses
fired at once get no more tries than guesses in a row); a body over the limit is a 413 whether it says its
length or not; a 1 MB string is a 4xx, never a 500; a client sending its request a byte at a time (slow-loris),
or nothing at all, is cut off by the server's head and body timeouts (server/http.py) while everyone else is
served as usual.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from chaos.abuse import silent, slow_body, slow_head, trickle
from chaos.results import Results
from linli.settings import get_settings
from tests.conftest import next_phone, process_env
from tests.harness import live_api

HEAD_TIMEOUT_SECONDS, BODY_TIMEOUT_SECONDS = 3, 5
SLOW_CONNECTIONS = 30
FIGURES: dict[str, Any] = {}


@pytest.fixture(scope="module")
def guarded_server(database: None, log_dir: Path) -> Iterator[str]:
    """`linli serve --workers 2` with short head and body timeouts, so a slow-loris run takes seconds."""
    env = process_env() | {
        "LINLI_HTTP_HEAD_TIMEOUT_SECONDS": str(HEAD_TIMEOUT_SECONDS),
        "LINLI_HTTP_BODY_TIMEOUT_SECONDS": str(BODY_TIMEOUT_SECONDS),
    }
    with live_api(env, log_dir, workers=2) as base:
        yield base


def _problem(r: httpx.Response, status: int, code: str) -> None:
    assert r.status_code == status, (r.status_code, r.text[:300])
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["code"] == code


async def _register(http: httpx.AsyncClient) -> tuple[str, str]:
    phone = next_phone()
    r = await http.post("/api/v1/auth/register", json={"phone": phone, "password": "s3cret-pass", "name": "李奶奶"})
    assert r.status_code == 201, r.text
    return phone, "s3cret-pass"


async def test_password_guessing_is_throttled_per_phone_and_per_address_across_both_processes(live_server):
    settings = get_settings()
    per_phone, per_ip = settings.login_failures_per_phone, settings.login_failures_per_ip
    async with httpx.AsyncClient(base_url=live_server, timeout=30) as http:
        phone, password = await _register(http)

        async def guess(phone: str, password: str) -> httpx.Response:
            return await http.post("/api/v1/auth/token", json={"phone": phone, "password": password})

        in_a_row = [await guess(phone, f"guess-{i}") for i in range(per_phone + 3)]
        assert [r.status_code for r in in_a_row] == [401] * per_phone + [429] * 3
        refused = in_a_row[-1]
        _problem(refused, 429, "too_many_requests")
        retry_after = int(refused.headers["retry-after"])
        assert 0 < retry_after <= settings.login_window_seconds
        _problem(await guess(phone, password), 429, "too_many_requests")  # even the right one waits

        other, _ = await _register(http)
        at_once = await asyncio.gather(*(guess(other, f"guess-{i}") for i in range(30)))
        assert sorted(r.status_code for r in at_once) == [401] * per_phone + [429] * (30 - per_phone)

        # Spread over many phones, the address itself runs out (the attempts above count too).
        spread = [await guess(next_phone(), "guess-1234") for _ in range(per_ip)]
        codes = [r.status_code for r in spread]
        assert set(codes) <= {401, 429} and codes[-1] == 429
        _problem(spread[-1], 429, "too_many_requests")
    FIGURES.update(
        guesses_allowed_per_phone=per_phone,
        guesses_allowed_per_address=per_ip,
        retry_after_seconds=retry_after,
        guesses_fired_at_once=30,
        of_those_checked=per_phone,
    )


async def test_a_body_over_the_limit_is_413_with_or_without_its_length_and_a_1_mb_string_is_a_4xx(live_server):
    limit = get_settings().max_body_bytes
    huge = json.dumps({"phone": next_phone(), "password": "s3cret-pass", "name": "x" * (2 * limit)}).encode()

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: the server must count as it reads
        for i in range(0, len(huge), 64 * 1024):
            yield huge[i : i + 64 * 1024]

    one_mb = "长" * (1024 * 1024 // 3)  # 1 MB of UTF-8 in one JSON string: over the limit by itself
    just_under = "长" * ((limit - 200) // 3)  # the longest string a body under the limit can carry
    async with httpx.AsyncClient(base_url=live_server, timeout=30) as http:
        headers = {"content-type": "application/json"}
        _problem(await http.post("/api/v1/auth/register", content=huge, headers=headers), 413, "payload_too_large")
        _problem(await http.post("/api/v1/auth/register", content=chunks(), headers=headers), 413, "payload_too_large")
        register = {"phone": next_phone(), "password": "s3cret-pass"}
        as_name = await http.post("/api/v1/auth/register", json=register | {"name": one_mb})
        _problem(as_name, 413, "payload_too_large")
        under_as_name = await http.post("/api/v1/auth/register", json=register | {"name": just_under})
        _problem(under_as_name, 422, "validation_error")
        as_password = await http.post("/api/v1/auth/token", json={"phone": next_phone(), "password": just_under})
        assert 400 <= as_password.status_code < 500, as_password.status_code

        phone, password = await _register(http)
        token = (await http.post("/api/v1/auth/token", json={"phone": phone, "password": password})).json()
        in_query = await http.get(
            "/api/v1/offerings",
            params={"q": "x" * 60_000},  # httpx itself sends no URL over 64 KB
            headers={"Authorization": f"Bearer {token['access_token']}"},
        )
        assert 400 <= in_query.status_code < 500, in_query.status_code
    FIGURES.update(
        body_limit_bytes=limit,
        body_of_2_mb="413 (with Content-Length and chunked)",
        string_of_1_mb=f"{as_name.status_code} as a name",
        string_of_60_kb_in_a_query=in_query.status_code,
        string_just_under_the_limit=f"{under_as_name.status_code} as a name, {as_password.status_code} as a password",
    )


async def test_slow_loris_connections_are_cut_off_while_everyone_else_is_served(guarded_server, results: Results):
    host = urlsplit(guarded_server).netloc
    give_up = 30.0
    t0 = time.monotonic()
    heads = [
        trickle(guarded_server, *slow_head(host), every_seconds=0.5, give_up_after=give_up)
        for _ in range(SLOW_CONNECTIONS)
    ]
    bodies = [
        trickle(guarded_server, *slow_body(host), every_seconds=0.5, give_up_after=give_up)
        for _ in range(SLOW_CONNECTIONS // 3)
    ]
    silences = [silent(guarded_server, give_up_after=give_up) for _ in range(SLOW_CONNECTIONS // 3)]

    async def everyone_else() -> list[int]:
        await asyncio.sleep(1)  # the slow ones are all connected by now
        async with httpx.AsyncClient(base_url=guarded_server, timeout=10) as http:
            return [(await http.get("/health/live")).status_code for _ in range(20)]

    slow = asyncio.gather(*heads, *bodies, *silences)
    closed, served = await asyncio.gather(slow, everyone_else())
    assert served == [200] * 20
    assert None not in closed, closed  # every slow connection was closed by the server
    cut = [seconds for seconds in closed if seconds is not None]
    cut_heads = cut[:SLOW_CONNECTIONS] + cut[SLOW_CONNECTIONS + len(bodies) :]
    cut_bodies = cut[SLOW_CONNECTIONS : SLOW_CONNECTIONS + len(bodies)]
    # Cut for the right reason: not before its timeout ran out.
    assert min(cut_heads) >= HEAD_TIMEOUT_SECONDS - 0.5
    assert min(cut_bodies) >= BODY_TIMEOUT_SECONDS - 0.5

    results.record(
        "abuse",
        **FIGURES,
        slow_loris_connections=len(closed),
        slowest_cut_seconds_head=round(max(cut_heads), 1),
        slowest_cut_seconds_body=round(max(cut_bodies), 1),
        head_timeout_seconds=HEAD_TIMEOUT_SECONDS,
        body_timeout_seconds=BODY_TIMEOUT_SECONDS,
        others_served_meanwhile="20 of 20",
        run_seconds=round(time.monotonic() - t0, 1),
    )
