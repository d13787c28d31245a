"""Residents sign up, sign in and see themselves; tokens and passwords behave as people expect."""

from __future__ import annotations

import asyncio
import re
import time
from uuid import UUID, uuid4

import jwt

from linli import db
from linli.settings import get_settings
from tests.api import community_with_staff, sign_up
from tests.conftest import next_phone


async def test_resident_registers_signs_in_and_sees_themself(client):
    phone = next_phone()
    r = await client.post("/api/v1/auth/register", json={"phone": phone, "password": "abc12345", "name": "陈阿婆"})
    assert r.status_code == 201
    assert r.json()["phone"] == phone
    t = await client.post("/api/v1/auth/token", json={"phone": phone, "password": "abc12345"})
    assert t.status_code == 200
    body = t.json()
    assert body["token_type"] == "bearer"
    me = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200
    assert me.json()["name"] == "陈阿婆"
    assert me.json()["communities"] == []


async def test_password_is_stored_as_argon2_hash(client):
    person = await sign_up(client, "王大爷", password="my-password-1")
    stored = await db.fetchval("SELECT password_hash FROM users WHERE id = $1", UUID(person.id))
    assert stored.startswith("$argon2id$")
    assert "my-password-1" not in stored


async def test_wrong_password_is_401_problem(client):
    person = await sign_up(client)
    r = await client.post("/api/v1/auth/token", json={"phone": person.phone, "password": "wrong-one"})
    assert r.status_code == 401
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["code"] == "invalid_credentials"


async def test_unknown_phone_is_the_same_401(client):
    r = await client.post("/api/v1/auth/token", json={"phone": next_phone(), "password": "whatever1"})
    assert r.status_code == 401
    assert r.json()["code"] == "invalid_credentials"


async def test_no_token_is_401(client):
    r = await client.get("/api/v1/me")
    assert r.status_code == 401
    assert r.json()["code"] == "unauthorized"


async def test_garbage_token_is_401(client):
    r = await client.get("/api/v1/me", headers={"Authorization": "Bearer not.a.jwt"})
    assert r.status_code == 401
    assert r.json()["code"] == "token_invalid"


async def test_expired_token_is_401(client):
    person = await sign_up(client)
    now = int(time.time())
    expired = jwt.encode(
        {"sub": person.id, "iat": now - 7200, "exp": now - 3600}, "test-secret-" + "x" * 40, algorithm="HS256"
    )
    r = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {expired}"})
    assert r.status_code == 401
    assert r.json()["code"] == "token_invalid"


async def test_a_token_that_worked_stops_working_when_it_expires(client):
    """Verified tokens are remembered per process; the expiry is still checked on every request."""
    person = await sign_up(client)
    now = int(time.time())
    short = jwt.encode({"sub": person.id, "iat": now, "exp": now + 2}, "test-secret-" + "x" * 40, algorithm="HS256")
    ok = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {short}"})
    assert ok.status_code == 200
    await asyncio.sleep(max(0.0, now + 2.2 - time.time()))
    r = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {short}"})
    assert r.status_code == 401
    assert r.json()["code"] == "token_invalid"


async def test_a_tampered_copy_of_a_working_token_is_401(client):
    person = await sign_up(client)
    other = await sign_up(client)
    good = person.headers["Authorization"].removeprefix("Bearer ")
    assert (await client.get("/api/v1/me", headers={"Authorization": f"Bearer {good}"})).status_code == 200
    header, _, signature = good.split(".")
    forged_claims = jwt.utils.base64url_encode(  # type: ignore[attr-defined]
        f'{{"sub":"{other.id}","exp":{int(time.time()) + 3600}}}'.encode()
    ).decode()
    forged = f"{header}.{forged_claims}.{signature}"
    r = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {forged}"})
    assert r.status_code == 401


async def test_token_signed_with_another_key_is_401(client):
    person = await sign_up(client)
    forged = jwt.encode({"sub": person.id, "exp": int(time.time()) + 3600}, "other-key" * 5, algorithm="HS256")
    r = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {forged}"})
    assert r.status_code == 401


async def test_same_phone_cannot_register_twice(client):
    person = await sign_up(client)
    r = await client.post(
        "/api/v1/auth/register", json={"phone": person.phone, "password": "another-pw", "name": "冒名"}
    )
    assert r.status_code == 409
    assert r.json()["code"] == "phone_taken"
    assert await db.fetchval("SELECT count(*) FROM users WHERE phone = $1", person.phone) == 1


async def test_phone_must_be_a_mainland_mobile(client):
    for bad in ["12345", "23800000000", "1380000000a", "", "138000000001"]:
        r = await client.post("/api/v1/auth/register", json={"phone": bad, "password": "abc12345", "name": "x"})
        assert r.status_code == 422, bad
        assert r.json()["code"] == "validation_error"
    assert await db.fetchval("SELECT count(*) FROM users") == 0


async def test_plus86_prefix_is_normalised(client):
    phone = next_phone()
    r = await client.post(
        "/api/v1/auth/register", json={"phone": f"+86 {phone}", "password": "abc12345", "name": "林伯"}
    )
    assert r.status_code == 201
    assert r.json()["phone"] == phone


async def test_repeated_failed_logins_are_throttled_per_phone(client):
    person = await sign_up(client)
    codes = []
    for _ in range(7):
        r = await client.post("/api/v1/auth/token", json={"phone": person.phone, "password": "wrong-pass"})
        codes.append(r.status_code)
    assert codes[:5] == [401] * 5
    assert codes[5:] == [429, 429]
    # Even the right password waits out the window: that is what stops guessing.
    r = await client.post("/api/v1/auth/token", json={"phone": person.phone, "password": person.password})
    assert r.status_code == 429
    assert r.json()["code"] == "too_many_requests"
    # How long to wait is said, in the header and the body, and it is the window's remaining time.
    retry_after = int(r.headers["retry-after"])
    assert 0 < retry_after <= get_settings().login_window_seconds
    assert r.json()["retry_after_seconds"] == retry_after


async def test_thirty_guesses_fired_at_once_get_no_more_tries_than_five_in_a_row(client):
    person = await sign_up(client)
    answers = await asyncio.gather(
        *(
            client.post("/api/v1/auth/token", json={"phone": person.phone, "password": f"guess-{i:04d}"})
            for i in range(30)
        )
    )
    codes = sorted(r.status_code for r in answers)
    assert codes == [401] * get_settings().login_failures_per_phone + [429] * 25


async def test_many_people_signing_in_at_once_from_one_address_are_not_throttled(client):
    # A community centre's network: everyone behind one address, signing in together.
    people = [await sign_up(client) for _ in range(get_settings().login_failures_per_ip + 10)]
    answers = await asyncio.gather(
        *(client.post("/api/v1/auth/token", json={"phone": p.phone, "password": p.password}) for p in people)
    )
    assert {r.status_code for r in answers} == {200}


async def test_joining_a_community_at_registration_makes_a_resident(client):
    setup = await community_with_staff(client)
    phone = next_phone()
    r = await client.post(
        "/api/v1/auth/register",
        json={"phone": phone, "password": "abc12345", "name": "居民", "community_id": setup.id},
    )
    assert r.status_code == 201
    t = await client.post("/api/v1/auth/token", json={"phone": phone, "password": "abc12345"})
    me = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {t.json()['access_token']}"})
    assert me.json()["communities"][0]["roles"] == ["resident"]


async def test_registering_into_an_unknown_community_writes_nothing(client):
    phone = next_phone()
    r = await client.post(
        "/api/v1/auth/register",
        json={"phone": phone, "password": "abc12345", "name": "居民", "community_id": str(UUID(int=5))},
    )
    assert r.status_code == 404
    assert await db.fetchval("SELECT count(*) FROM users WHERE phone = $1", phone) == 0
    assert await db.fetchval("SELECT count(*) FROM outbox_events") == 0


async def test_many_failures_from_one_address_are_throttled_across_phones(client):
    from linli.settings import get_settings

    limit = get_settings().login_failures_per_ip
    codes = []
    for _ in range(limit + 1):
        r = await client.post("/api/v1/auth/token", json={"phone": next_phone(), "password": "guess-1234"})
        codes.append(r.status_code)
    assert codes[:limit] == [401] * limit
    assert codes[limit] == 429


async def test_failed_logins_open_a_window_that_expires(client):
    from linli.redis import redis_client
    from linli.settings import get_settings

    person = await sign_up(client)
    await client.post("/api/v1/auth/token", json={"phone": person.phone, "password": "wrong-pass"})
    key = f"{get_settings().redis_namespace}:login-fail:phone:{person.phone}"
    ttl = await redis_client().ttl(key)
    assert 0 < ttl <= get_settings().login_window_seconds
    assert await redis_client().get(key) == b"1"


def _fill(path: str) -> str:
    """A concrete path for a route template: a fresh id for each uuid parameter, a plausible value otherwise."""

    def value(match: re.Match[str]) -> str:
        kind = match.group(2)
        return str(uuid4()) if kind == "uuid" else "1" if kind == "int" else "x"

    return re.sub(r"\{(\w+):(\w+)\}", value, path)


async def test_every_route_that_is_not_public_refuses_a_caller_without_a_valid_token(app, client):
    # Secure by default: a handler is reachable without a token only if it says `public=True` (or its path is one
    # of the sign-up, sign-in, health and schema paths). Walk every route the app serves, with no token and with
    # a forged one: each answers 401 before its handler runs, whatever the path's ids or the body.
    from linli.auth.security import PUBLIC_OPT_KEY, PUBLIC_PATH

    forged = jwt.encode(
        {"sub": str(UUID(int=1)), "exp": int(time.time()) + 600}, "not-our-key-" + "k" * 40, algorithm="HS256"
    )
    checked = 0
    for route in app.routes:
        for handler in getattr(route, "route_handlers", []):
            if handler.opt.get(PUBLIC_OPT_KEY) or PUBLIC_PATH.match(route.path):
                continue
            for method in sorted(handler.http_methods - {"OPTIONS", "HEAD"}):
                path = _fill(route.path)
                for headers in ({}, {"Authorization": f"Bearer {forged}"}):
                    r = await client.request(method, path, headers=headers, json={})
                    assert r.status_code == 401, (method, route.path, headers, r.text)
                    assert r.json()["code"] in {"unauthorized", "token_invalid"}
                checked += 1
    assert checked > 100  # the walk really visited the API


async def test_public_pages_answer_without_a_token_and_the_schema_asks_for_a_bearer_token_elsewhere(client):
    assert (await client.get("/api/v1/communities")).status_code == 200  # public=True
    assert (await client.get("/health/live")).status_code == 200  # a public path
    schema = (await client.get("/schema/openapi.json")).json()
    assert schema["components"]["securitySchemes"]["BearerToken"]["scheme"].lower() == "bearer"
    # Each operation says whether it needs the token: a client generated from the document sends it where it must.
    paths = schema["paths"]
    assert paths["/api/v1/bookings"]["post"]["security"] == [{"BearerToken": []}]
    assert paths["/api/v1/me"]["get"]["security"] == [{"BearerToken": []}]
    for public in ("/api/v1/auth/token", "/api/v1/auth/register"):
        assert "security" not in paths[public]["post"], public
    assert "security" not in paths["/api/v1/communities"]["get"]  # public=True
    assert "security" not in paths["/health/live"]["get"]
