"""Reviews (one 1–5 rating per completed booking) and complaints (filed → handled → resolved).

A complaint is filed by the booking's resident, handled by the partner side (partner staff or the community's
staff) with a note, and resolved by the resident, who says whether they are satisfied. Callers own the unit of
work.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from community import access as community_access
from linli import db, outbox
from linli.auth.security import CurrentUser
from linli.errors import Conflict, Forbidden, InvalidTransition, NotFound
from marketplace.errors import BOOKING_NOT_COMPLETED, COMPLAINT_NOT_FOUND, REVIEW_EXISTS, REVIEW_NOT_FOUND
from marketplace.schemas import (
    ComplaintHandleIn,
    ComplaintIn,
    ComplaintOut,
    ComplaintPage,
    ComplaintResolveIn,
    ReviewIn,
    ReviewOut,
)
from marketplace.services import access
from partners import services as partners

_REVIEW_COLUMNS = "id, booking_id, partner_id, offering_id, rating, comment, created_at"
_COMPLAINT_COLUMNS = (
    "id, booking_id, community_id, partner_id, resident_id, content, status, handled_by, handling_note,"
    " handled_at, satisfaction, resolved_at, created_at"
)


async def review(*, actor: CurrentUser, booking_id: UUID, review_in: ReviewIn) -> ReviewOut:
    """The resident rates a completed booking, once (409 `review_exists` the second time)."""
    seen = await access.booking_for(actor, booking_id)
    if actor.id != seen.row["resident_id"]:
        raise Forbidden("only the resident may review their booking")
    if seen.row["status"] != "completed":
        raise Conflict("only a completed booking can be reviewed", code=BOOKING_NOT_COMPLETED)
    row = await db.fetchrow(
        "INSERT INTO booking_reviews (id, booking_id, community_id, partner_id, offering_id, resident_id, rating,"
        " comment, created_at) VALUES (gen_random_uuid(), $1, $2, $3, $4, $5, $6, $7, now())"
        f" ON CONFLICT (booking_id) DO NOTHING RETURNING {_REVIEW_COLUMNS}",
        booking_id,
        seen.row["community_id"],
        seen.row["partner_id"],
        seen.row["offering_id"],
        actor.id,
        review_in.rating,
        review_in.comment,
    )
    if row is None:
        raise Conflict("already reviewed", code=REVIEW_EXISTS)
    await outbox.emit(
        topic="review.created",
        payload={"review_id": str(row["id"]), "booking_id": str(booking_id), "partner_id": str(row["partner_id"])},
    )
    return ReviewOut(**dict(row))


async def get_review(*, actor: CurrentUser, booking_id: UUID) -> ReviewOut:
    await access.booking_for(actor, booking_id)
    row = await db.fetchrow(f"SELECT {_REVIEW_COLUMNS} FROM booking_reviews WHERE booking_id = $1", booking_id)
    if row is None:
        raise NotFound("this booking has no review", code=REVIEW_NOT_FOUND)
    return ReviewOut(**dict(row))


async def get_partner_reviews(*, actor: CurrentUser, partner_id: UUID, limit: int, offset: int) -> list[ReviewOut]:
    """Reviews of a partner, without the reviewers' identity; visible to whoever may see the partner."""
    await partners.get_visible(actor=actor, partner_id=partner_id)
    rows = await db.fetch(
        f"SELECT {_REVIEW_COLUMNS} FROM booking_reviews WHERE partner_id = $1"
        " ORDER BY created_at DESC, id LIMIT $2 OFFSET $3",
        partner_id,
        limit,
        offset,
    )
    return [ReviewOut(**dict(r)) for r in rows]


def _complaint(row: Any) -> ComplaintOut:
    return ComplaintOut(**dict(row))


async def _emit(topic: str, row: Any) -> None:
    await outbox.emit(
        topic=topic,
        payload={
            "complaint_id": str(row["id"]),
            "booking_id": str(row["booking_id"]),
            "partner_id": str(row["partner_id"]),
            "community_id": str(row["community_id"]),
            "resident_id": str(row["resident_id"]),
            "step": topic.split(".", 1)[1],
        },
    )


async def file_complaint(*, actor: CurrentUser, complaint_in: ComplaintIn) -> ComplaintOut:
    """The booking's resident files a complaint about it."""
    seen = await access.booking_for(actor, complaint_in.booking_id)
    if actor.id != seen.row["resident_id"]:
        raise Forbidden("only the resident may complain about their booking")
    row = await db.fetchrow(
        "INSERT INTO complaints (id, booking_id, community_id, partner_id, resident_id, content, status, created_at)"
        f" VALUES (gen_random_uuid(), $1, $2, $3, $4, $5, 'filed', now()) RETURNING {_COMPLAINT_COLUMNS}",
        complaint_in.booking_id,
        seen.row["community_id"],
        seen.row["partner_id"],
        actor.id,
        complaint_in.content,
    )
    await _emit("complaint.filed", row)
    return _complaint(row)


async def _complaints(where: str, *args: Any, status: str | None, limit: int, offset: int) -> ComplaintPage:
    """Complaints matching `where` (on $1.. of `args`), optionally of one status, newest first, with the total."""
    n = len(args)
    rows = await db.fetch(
        f"SELECT {_COMPLAINT_COLUMNS}, count(*) OVER () AS total FROM complaints WHERE {where}"
        f" AND (${n + 1}::text IS NULL OR status = ${n + 1})"
        f" ORDER BY created_at DESC, id LIMIT ${n + 2} OFFSET ${n + 3}",
        *args,
        status,
        limit,
        offset,
    )
    return ComplaintPage(items=[_complaint(r) for r in rows], total=rows[0]["total"] if rows else 0)


async def get_partner_complaints(
    *, actor: CurrentUser, partner_id: UUID, status: str | None, limit: int, offset: int
) -> list[ComplaintOut]:
    """A partner's complaints (newest first), for its staff and its community's staff to work through."""
    await partners.require_partner_role(actor, partner_id, "staff")
    page = await _complaints("partner_id = $1", partner_id, status=status, limit=limit, offset=offset)
    return page.items


async def get_community_complaints(
    *,
    actor: CurrentUser,
    community_id: UUID,
    status: str | None,
    partner_id: UUID | None,
    limit: int,
    offset: int,
) -> ComplaintPage:
    """Every complaint in the community (optionally one partner's), for its staff to supervise 办结 across partners."""
    await community_access.require_role(actor, community_id, "staff")
    return await _complaints(
        "community_id = $1 AND ($2::uuid IS NULL OR partner_id = $2)",
        community_id,
        partner_id,
        status=status,
        limit=limit,
        offset=offset,
    )


async def get_mine(*, actor: CurrentUser, status: str | None, limit: int, offset: int) -> ComplaintPage:
    """The caller's own complaints, newest first: where each stands and what the partner answered."""
    return await _complaints("resident_id = $1", actor.id, status=status, limit=limit, offset=offset)


async def _complaint_for(actor: CurrentUser, complaint_id: UUID) -> tuple[Any, bool]:
    """The complaint if the caller is its resident or on the partner side (404 otherwise), locked."""
    row = await db.fetchrow(f"SELECT {_COMPLAINT_COLUMNS} FROM complaints WHERE id = $1 FOR UPDATE", complaint_id)
    if row is None:
        raise NotFound("no such complaint", code=COMPLAINT_NOT_FOUND)
    partner_side = await access.partner_side(actor, row["partner_id"])
    if actor.id != row["resident_id"] and not partner_side:
        raise NotFound("no such complaint", code=COMPLAINT_NOT_FOUND)
    return row, partner_side


async def get_complaint(*, actor: CurrentUser, complaint_id: UUID) -> ComplaintOut:
    row, _ = await _complaint_for(actor, complaint_id)
    return _complaint(row)


async def handle(*, actor: CurrentUser, complaint_id: UUID, handle_in: ComplaintHandleIn) -> ComplaintOut:
    """The partner side answers a filed complaint (filed → handled)."""
    row, partner_side = await _complaint_for(actor, complaint_id)
    if not partner_side:
        raise Forbidden("only the partner's or the community's staff may handle a complaint")
    if row["status"] != "filed":
        raise InvalidTransition(entity="complaint", current=row["status"], action="handle")
    row = await db.fetchrow(
        "UPDATE complaints SET status = 'handled', handled_by = $2, handling_note = $3, handled_at = now()"
        f" WHERE id = $1 RETURNING {_COMPLAINT_COLUMNS}",
        complaint_id,
        actor.id,
        handle_in.note,
    )
    await _emit("complaint.handled", row)
    return _complaint(row)


async def resolve(*, actor: CurrentUser, complaint_id: UUID, resolve_in: ComplaintResolveIn) -> ComplaintOut:
    """The resident closes a handled complaint, saying whether they are satisfied (handled → resolved)."""
    row, _ = await _complaint_for(actor, complaint_id)
    if actor.id != row["resident_id"]:
        raise Forbidden("only the resident who filed the complaint may resolve it")
    if row["status"] != "handled":
        raise InvalidTransition(entity="complaint", current=row["status"], action="resolve")
    row = await db.fetchrow(
        "UPDATE complaints SET status = 'resolved', satisfaction = $2, resolved_at = now()"
        f" WHERE id = $1 RETURNING {_COMPLAINT_COLUMNS}",
        complaint_id,
        resolve_in.satisfaction,
    )
    await _emit("complaint.resolved", row)
    return _complaint(row)
