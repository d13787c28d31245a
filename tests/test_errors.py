"""Whatever a client sends, it gets a problem+json answer with a stable code, in Chinese or in English."""

from __future__ import annotations

import inspect
import typing
from typing import Any

import asyncpg
import httpx
import pytest
from litestar import get
from pydantic import BaseModel, ValidationError

from linli import db, errors
from tests.api import community_with_staff

PROBLEM = "application/problem+json"


def assert_problem(r: httpx.Response, status: int, code: str) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith(PROBLEM)
    body = r.json()
    assert body["code"] == code
    assert body["status"] == status
    assert body["title"]
    return body


async def test_validation_error_names_the_fields(client):
    r = await client.post("/api/v1/auth/register", json={"phone": 1, "password": "short"})
    body = assert_problem(r, 422, "validation_error")
    keys = {e["key"] for e in body["errors"]}
    assert {"phone", "password", "name"} <= keys


async def test_malformed_json_is_400(client):
    r = await client.post("/api/v1/auth/register", content=b"{not json", headers={"content-type": "application/json"})
    assert_problem(r, 400, "malformed_body")


@pytest.mark.parametrize("nested", [b'{"a":' * 5000 + b"1" + b"}" * 5000, b"[" * 5000 + b"]" * 5000])
async def test_absurdly_nested_json_is_a_malformed_body_and_writes_nothing(client, nested):
    r = await client.post("/api/v1/auth/register", content=nested, headers={"content-type": "application/json"})
    assert_problem(r, 400, "malformed_body")
    assert await db.fetchval("SELECT count(*) FROM users") == 0


async def test_missing_body_is_422(client):
    r = await client.post("/api/v1/auth/register", content=b"", headers={"content-type": "application/json"})
    body = assert_problem(r, 422, "validation_error")
    assert "required" in body["errors"][0]["message"]


async def test_wrong_json_type_is_422(client):
    r = await client.post("/api/v1/auth/register", json=[1, 2, 3])
    assert_problem(r, 422, "validation_error")


def request_models(app: Any) -> set[type[BaseModel]]:
    """Every model a request body is parsed into, and the models nested in those."""
    found: set[type[BaseModel]] = set()

    def visit(annotation: Any) -> None:
        if inspect.isclass(annotation) and issubclass(annotation, BaseModel):
            if annotation not in found:
                found.add(annotation)
                for field in annotation.model_fields.values():
                    visit(field.annotation)
            return
        for arg in typing.get_args(annotation):
            visit(arg)

    for route in app.routes:
        for handler in getattr(route, "route_handlers", []):
            data = handler.parsed_fn_signature.parameters.get("data")
            if data is not None:
                visit(data.annotation)
    return found


def nul_values(annotation: Any) -> list[Any]:
    """Values of this field's type that carry a NUL: the text itself, or text in a list or as a dict key."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if annotation is str:
        return ["午餐\u0000", "\u0000"]
    if origin is list:
        return [[v] for v in nul_values(args[0])]
    if origin is dict:
        return [{k: 1} for k in nul_values(args[0])]
    if origin is typing.Union or origin is type(int | None):
        return [v for a in args for v in nul_values(a)]
    return []


async def test_no_request_body_takes_text_the_database_cannot_store(app):
    """PostgreSQL text cannot hold NUL (JSON can): every text field of every body refuses it as a 422 up front."""
    checked = 0
    for model in request_models(app):
        for name, field in model.model_fields.items():
            for value in nul_values(field.annotation):
                with pytest.raises(ValidationError) as refused:
                    model.model_validate({name: value})
                assert any(e["loc"][:1] == (name,) for e in refused.value.errors()), (model, name, value)
                checked += 1
    assert checked > 100


async def test_text_with_nul_is_a_422_problem_naming_the_field(client):
    r = await client.post(
        "/api/v1/auth/register", json={"phone": "13800001111", "password": "s3cret-pass", "name": "张\u0000三"}
    )
    body = assert_problem(r, 422, "validation_error")
    assert [e["key"] for e in body["errors"]] == ["name"]
    assert await db.fetchval("SELECT count(*) FROM users") == 0


@pytest.mark.parametrize(
    "path",
    [
        "/communities",
        "/communities/{id}/members",
        "/communities/{id}/volunteers",
        "/communities/{id}/settlements",
        "/communities/{id}/welfare-fund/transactions",
        "/communities/{id}/welfare-fund/disbursements",
    ],
)
async def test_paging_beyond_any_list_is_a_422_not_a_database_overflow(client, path):
    setup = await community_with_staff(client)
    url = "/api/v1" + path.format(id=setup.id)
    for offset in (2**63, 10**30, 100_001, -1):
        r = await client.get(url, params={"offset": offset}, headers=setup.platform.headers)
        body = assert_problem(r, 422, "validation_error")
        assert [e["key"] for e in body["errors"]] == ["offset"]
    r = await client.get(url, params={"offset": 100_000}, headers=setup.platform.headers)
    assert r.status_code == 200, r.text
    assert r.json() == []


async def test_unknown_route_is_404(client):
    assert_problem(await client.get("/api/v1/no-such-thing"), 404, "route_not_found")


async def test_wrong_method_is_405(client):
    assert_problem(await client.delete("/api/v1/auth/register"), 405, "method_not_allowed")


async def test_oversized_body_is_413_and_writes_nothing(client):
    huge = b'{"phone": "13800001111", "password": "' + b"x" * 2_000_000 + b'", "name": "a"}'
    r = await client.post("/api/v1/auth/register", content=huge, headers={"content-type": "application/json"})
    assert_problem(r, 413, "payload_too_large")
    assert await db.fetchval("SELECT count(*) FROM users") == 0


async def test_over_long_fields_are_422(client):
    r = await client.post(
        "/api/v1/auth/register", json={"phone": "13800001111", "password": "p" * 500, "name": "名" * 51}
    )
    assert_problem(r, 422, "validation_error")
    assert await db.fetchval("SELECT count(*) FROM users") == 0


async def test_malformed_uuid_in_path_is_a_4xx_problem(client):
    r = await client.get("/api/v1/communities/not-a-uuid")
    assert r.status_code in (400, 404)
    assert r.headers["content-type"].startswith(PROBLEM)


@pytest.mark.parametrize(
    "call",
    [
        lambda c, h: c.post("/api/v1/auth/register", json={}, headers=h),
        lambda c, h: c.get("/api/v1/nope", headers=h),
        lambda c, h: c.delete("/api/v1/auth/register", headers=h),
        lambda c, h: c.get("/api/v1/me", headers=h),
    ],
)
async def test_titles_are_chinese_by_default_and_english_on_request(client, call):
    zh = (await call(client, {})).json()
    en = (await call(client, {"Accept-Language": "en-US,en;q=0.9"})).json()
    assert zh["code"] == en["code"]
    assert zh["title"] != en["title"]
    assert any("\u4e00" <= ch <= "\u9fff" for ch in zh["title"])
    assert en["title"].isascii()


async def test_chinese_wins_when_ranked_higher(client):
    r = await client.get("/api/v1/me", headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8"})
    assert any("\u4e00" <= ch <= "\u9fff" for ch in r.json()["title"])


async def test_unexpected_exception_is_500_without_internals(app):
    from server.app import create_app

    @get("/boom", public=True)
    async def boom() -> None:
        raise RuntimeError("secret connection string postgres://admin:hunter2@db")

    broken = create_app()
    broken.register(boom)
    transport = httpx.ASGITransport(app=broken)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        r = await c.get("/boom")
    body = assert_problem(r, 500, "internal_error")
    assert "hunter2" not in r.text
    assert "RuntimeError" not in r.text
    assert "detail" not in body


async def test_every_response_carries_a_request_id(client):
    r = await client.get("/health/live", headers={"X-Request-ID": "abc123"})
    assert r.headers["x-request-id"] == "abc123"
    r = await client.get("/health/live")
    assert len(r.headers["x-request-id"]) == 32


async def test_problems_name_their_request_even_without_a_route_or_a_token(client):
    """What a resident reads out to the help desk (the request id) is on every error, in the body and header."""
    for method, path in (("GET", "/api/v1/no-such-thing"), ("DELETE", "/health/live"), ("GET", "/api/v1/me")):
        r = await client.request(method, path, headers={"X-Request-ID": "desk-42"})
        assert r.status_code in (401, 404, 405), r.text
        assert r.headers.get_list("x-request-id") == ["desk-42"]
        assert r.json()["request_id"] == "desk-42"
        fresh = await client.request(method, path)
        assert len(fresh.json()["request_id"]) == 32
        assert fresh.headers.get_list("x-request-id") == [fresh.json()["request_id"]]


async def test_database_out_of_connections_is_a_retryable_503(app):
    import asyncpg

    from server.app import create_app

    @get("/busy", public=True)
    async def busy() -> None:
        raise asyncpg.exceptions.TooManyConnectionsError("sorry, too many clients already")

    flaky = create_app()
    flaky.register(busy)
    transport = httpx.ASGITransport(app=flaky)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        r = await c.get("/busy")
    assert_problem(r, 503, "service_unavailable")
    assert r.headers["retry-after"] == "2"
    assert "too many clients" not in r.text


@pytest.mark.parametrize(
    ("exc", "retry_later"),
    [
        # What asyncpg raised in the chaos run when PostgreSQL stopped under a request (chaos/test_3): 503.
        (
            asyncpg.exceptions.InternalClientError("cannot switch to state 11; another operation (2) is in progress"),
            True,
        ),
        (asyncpg.exceptions.InterfaceError("connection is closed"), True),
        (asyncpg.exceptions.CannotConnectNowError("the database system is shutting down"), True),
        (asyncpg.exceptions.AdminShutdownError("terminating connection due to administrator command"), True),
        (ConnectionRefusedError(111, "Connect call failed"), True),
        (ConnectionResetError(104, "Connection reset by peer"), True),
        # Our own mistakes stay 500s, to be seen and mended.
        (asyncpg.exceptions.InterfaceError("the server expects 2 arguments for this query, 1 was passed"), False),
        (asyncpg.exceptions.UndefinedColumnError("column x does not exist"), False),
        (KeyError("price_fen"), False),
    ],
)
def test_a_database_that_went_away_is_a_503_to_retry_and_our_own_bugs_are_not(exc, retry_later):
    assert errors.unavailable(exc) is retry_later
