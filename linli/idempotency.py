"""Exactly-once effects on top of at-least-once delivery.

`once(consumer=..., key=...)` claims (consumer, key) inside the caller's unit of work: the claim commits with
the effect, so a message delivered twice, or two workers racing on it, produce one effect. The second claimant
blocks on the unique index until the first commits, then sees the claim and skips.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from typing import Annotated, Any
from uuid import UUID

from litestar import MediaType, Request, Response
from litestar.params import HeaderParameter
from pydantic import BaseModel

from linli import db
from linli.errors import Conflict, DomainError


async def claim(*, consumer: str, key: str) -> bool:
    """True if this is the first time `consumer` handles `key` (call inside a unit of work)."""
    row = await db.fetchrow(
        "INSERT INTO processed_messages (id, consumer, message_key, processed_at)"
        " VALUES (gen_random_uuid(), $1, $2, now())"
        " ON CONFLICT (consumer, message_key) DO NOTHING RETURNING id",
        consumer,
        key,
    )
    return row is not None


# --- HTTP: the Idempotency-Key header on POSTs that create something ---------------------------------------


# The header every creating POST accepts; declare it as `idempotency_key: IdempotencyKey = None`.
IdempotencyKey = Annotated[str | None, HeaderParameter(name="Idempotency-Key", min_length=1, max_length=200)]

# Anonymous calls (e.g. registration) share one key space; the request hash still tells retries from reuse.
ANONYMOUS = UUID(int=0)


def request_fingerprint(method: str, path: str, body: Any) -> str:
    canonical = json.dumps(body, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(f"{method} {path}\n{canonical}".encode()).hexdigest()


async def respond_once(
    *,
    user_id: UUID | None,
    key: str | None,
    method: str,
    path: str,
    body: Callable[[], Any],
    status_code: int,
    run: Callable[[], Awaitable[BaseModel]],
) -> Response[Any]:
    """Run `run` in one unit of work, at most once per (caller, Idempotency-Key).

    `body` is called only when a key is given (the fingerprint of the request). A retry with the same key and
    body gets the first response (same status, same body) and creates nothing;
    the same key with a different body is refused. Two identical requests racing: the second waits on the
    key's unique index until the first commits, then replays it. If the first fails, nothing is stored and a
    retry runs afresh.
    """
    if key is None:
        async with db.unit_of_work():
            result = await run()
        return _json(result.model_dump_json(), status_code)
    owner = user_id or ANONYMOUS
    fingerprint = request_fingerprint(method, path, body())
    async with db.unit_of_work():
        claimed = await db.fetchval(
            "INSERT INTO idempotency_keys (id, user_id, key, method, path, request_hash, created_at)"
            " VALUES (gen_random_uuid(), $1, $2, $3, $4, $5, now())"
            " ON CONFLICT (user_id, key) DO NOTHING RETURNING id",
            owner,
            key,
            method,
            path,
            fingerprint,
        )
        if claimed is None:
            row = await db.fetchrow(
                "SELECT request_hash, status_code, response_body FROM idempotency_keys WHERE user_id = $1 AND key = $2",
                owner,
                key,
            )
            if row is None or row["status_code"] is None:
                raise Conflict("the first request with this key is still running", code="idempotency_in_progress")
            if row["request_hash"] != fingerprint:
                raise DomainError("Idempotency-Key reused with a different request", code="idempotency_key_reused")
            replay = _json(row["response_body"], row["status_code"])
            replay.headers["Idempotent-Replayed"] = "true"
            return replay
        result = await run()
        payload = result.model_dump_json()
        await db.execute(
            "UPDATE idempotency_keys SET status_code = $2, response_body = $3 WHERE id = $1",
            claimed,
            status_code,
            payload,
        )
    return _json(payload, status_code)


def _json(body: str, status_code: int) -> Response[Any]:
    # Serialised once by Pydantic (in Rust), handed to Litestar as bytes so it is not encoded a second time.
    return Response(body.encode(), status_code=status_code, media_type=MediaType.JSON)


async def create_once(
    request: Request[Any, Any, Any],
    *,
    user_id: UUID | None,
    key: str | None,
    data: BaseModel,
    run: Callable[[], Awaitable[BaseModel]],
    status_code: int = 201,
) -> Response[Any]:
    """`respond_once` for the usual controller: the request's method and path, the parsed body as the body."""
    return await respond_once(
        user_id=user_id,
        key=key,
        method=request.method,
        path=request.scope["path"],  # not `request.url`, which builds a whole URL object
        body=lambda: data.model_dump(mode="json"),
        status_code=status_code,
        run=run,
    )
