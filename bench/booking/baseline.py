"""The raw baseline: a minimal Litestar handler issuing the booking's SQL statements on bare asyncpg.

Same statements as the real endpoint (the slot context with the resident's priority groups, then `BOOK_SLOT_SQL`:
the atomic capacity UPDATE, the booking INSERT and the outbox INSERT, one statement that needs no transaction
block around it, see linli.db.write_last; the app knows its callers from its cache, see linli.auth.callers, so
neither side reads `users` per request),
without the framework around it: no JWT verification (the token's subject is read unverified), no DI, no Pydantic, no
problem+json. Run: `uvicorn bench.booking.baseline:app --workers 2` with DATABASE_URL set.
"""

from __future__ import annotations

import base64
import gc
import json
import os
import uuid
from typing import Any

import asyncpg
from litestar import Litestar, Request, Response, get, post

from linli.db import keep_session
from marketplace.services.placing import BOOK_SLOT_SQL, SLOT_CONTEXT_SQL

_pool: asyncpg.Pool | None = None


async def _start(app: Litestar) -> None:
    global _pool
    # The same pool policy as the real service (see linli.db.start_pool): no session reset on release.
    _pool = await asyncpg.create_pool(os.environ["DATABASE_URL"], min_size=2, max_size=20, reset=keep_session)
    # And the same garbage-collector tuning (see server.app._lifespan).
    gc.collect()
    gc.freeze()


async def _stop(app: Litestar) -> None:
    if _pool is not None:
        await _pool.close()


def _subject(request: Request[Any, Any, Any]) -> uuid.UUID:
    token = request.headers.get("authorization", "")[7:]
    payload = token.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return uuid.UUID(claims["sub"])


@get("/health", sync_to_thread=False)
def health() -> dict[str, str]:
    return {"status": "ok"}


@post("/api/v1/bookings")
async def book(request: Request[Any, Any, Any]) -> Response[Any]:
    body = json.loads(await request.body())
    slot_id, quantity = uuid.UUID(body["slot_id"]), int(body.get("quantity", 1))
    user_id = _subject(request)
    assert _pool is not None
    async with _pool.acquire() as conn:
        ctx = await conn.fetchrow(SLOT_CONTEXT_SQL, slot_id, user_id)
        if ctx is None:
            return Response({"code": "slot_not_found"}, status_code=404)
        subsidies = json.loads(ctx["subsidies"]) if isinstance(ctx["subsidies"], str) else ctx["subsidies"]
        unit = min([ctx["price_fen"], *(subsidies[g] for g in (ctx["groups"] or []) if g in subsidies)])
        price, subsidy = ctx["price_fen"] * quantity, (ctx["price_fen"] - unit) * quantity
        group = next((g for g in sorted(ctx["groups"] or []) if subsidies.get(g) == unit), None)
        booking_id = uuid.uuid4()
        row = await conn.fetchrow(
            BOOK_SLOT_SQL,
            booking_id,
            ctx["community_id"],
            ctx["partner_id"],
            ctx["offering_id"],
            slot_id,
            "slot",
            ctx["category"],
            user_id,
            user_id,
            quantity,
            unit,
            price,
            subsidy,
            price - subsidy,
            quantity if group else 0,
            group,
            "confirmed",
            None,
            uuid.uuid4(),
            "booking.confirmed",
            json.dumps({"booking_id": str(booking_id)}),
        )
        if row is None:
            return Response({"code": "slot_full"}, status_code=409)
    out = {k: (str(v) if isinstance(v, uuid.UUID) else v) for k, v in dict(row).items()}
    return Response(out, status_code=201)


app = Litestar(route_handlers=[health, book], on_startup=[_start], on_shutdown=[_stop], debug=False)
