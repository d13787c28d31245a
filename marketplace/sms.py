"""SMS yes/no prompts: a question texted to a resident about one of their bookings, answered by replying Y or N.

Two kinds, each opened in the unit of work that made the booking (so a rolled-back booking texts nobody):

- `proxy_booking`: staff or a grid worker booked for the resident (代办). Y: the resident confirms they want
  it (the booking stays); N: it is cancelled, as by the resident through the API. Open until the offering's
  cancellation cutoff, after which the resident could not cancel anyway.
- `held_place`: a waitlist place is held for the resident (`marketplace.services.holds`). Y confirms the hold
  into a booking, N declines it (the place passes on). Open until the hold expires.

Each prompt carries a 4-digit `reply_code`, unique among the open prompts of one phone, which the text quotes
("回复Y 1234确认"): a resident with several open prompts answers one by its code; a bare "Y" is enough while
they have exactly one. The row and its `sms.prompt_opened` outbox event are written by one statement; the
actor (`marketplace.tasks.send_sms_prompt`) texts it through `notifications.channels.sms_channel()` with the
prompt's id as the gateway's message id. Replies are handled by `marketplace.services.sms_replies`.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

from linli import db, outbox

PROXY_BOOKING = "proxy_booking"
HELD_PLACE = "held_place"
PROMPT_OPENED = "sms.prompt_opened"

# The prompt and its event in one round trip; no row (and no event) when the code is taken by another open
# prompt of the same phone, and the caller draws again.
_OPEN_SQL = (
    "WITH prompt AS (INSERT INTO sms_prompts (id, community_id, booking_id, resident_id, kind, phone, reply_code,"
    " expires_at, created_at) SELECT $1, $2, $3, $4, $5, u.phone, $6, $7, now() FROM users u WHERE u.id = $4"
    " ON CONFLICT (phone, reply_code) WHERE closed_at IS NULL DO NOTHING RETURNING id),"
    f" event AS ({outbox.insert_event_sql(8)} FROM prompt) SELECT id FROM prompt"
)
_DRAWS = 8


def _code() -> str:
    return f"{secrets.randbelow(10_000):04d}"


async def open_prompt(
    *, kind: str, booking_id: UUID, community_id: UUID, resident_id: UUID, expires_at: datetime
) -> UUID | None:
    """Open a yes/no prompt about `booking_id` for its resident, to be texted by a worker (None if none is due).

    Nothing is asked when the answer could no longer change anything (`expires_at` has passed). Call inside
    the unit of work that created the booking. A code collides with one of the phone's few open prompts about
    once in thousands; each collision costs one more round trip, and `_DRAWS` collisions in a row mean the phone
    has thousands of open prompts, which the closing job prevents.
    """
    if expires_at <= datetime.now(expires_at.tzinfo):
        return None
    prompt_id = uuid4()
    for _ in range(_DRAWS):
        row = await db.fetchrow(
            _OPEN_SQL,
            prompt_id,
            community_id,
            booking_id,
            resident_id,
            kind,
            _code(),
            expires_at,
            *outbox.event_values(topic=PROMPT_OPENED, payload={"prompt_id": str(prompt_id)}),
        )
        if row is not None:
            return prompt_id
    raise RuntimeError("no free SMS reply code for this phone")


_MESSAGE_SQL = (
    "SELECT p.kind, p.phone, p.reply_code, p.expires_at, p.sent_at, p.closed_at, o.title, s.starts_at,"
    " c.timezone, booker.name AS booker_name"
    " FROM sms_prompts p JOIN bookings b ON b.id = p.booking_id JOIN offerings o ON o.id = b.offering_id"
    " LEFT JOIN slots s ON s.id = b.slot_id JOIN communities c ON c.id = b.community_id"
    " LEFT JOIN users booker ON booker.id = b.booked_by WHERE p.id = $1"
)


def _local(moment: datetime, timezone: str) -> str:
    return moment.astimezone(ZoneInfo(timezone)).strftime("%m月%d日 %H:%M")


def message_text(row: Any) -> str:
    """The text of a prompt: what was booked, when, and how to answer (the code always quoted)."""
    code = row["reply_code"]
    when = f"({_local(row['starts_at'], row['timezone'])})" if row["starts_at"] else ""
    if row["kind"] == HELD_PLACE:
        until = _local(row["expires_at"], row["timezone"])
        return f"您候补的「{row['title']}」{when}有空位了,为您保留至{until}。回复Y {code}确认预约,回复N {code}放弃。"
    booker = row["booker_name"] or "社区工作人员"
    return f"{booker}为您代办预约了「{row['title']}」{when}。回复Y {code}确认,回复N {code}取消。"


async def due_message(prompt_id: UUID) -> tuple[str, str] | None:
    """(phone, text) of a prompt still to be texted; None once texted, closed, expired or unknown."""
    row = await db.fetchrow(_MESSAGE_SQL, prompt_id)
    if row is None or row["sent_at"] is not None or row["closed_at"] is not None:
        return None
    if row["expires_at"] <= datetime.now(row["expires_at"].tzinfo):
        return None
    return row["phone"], message_text(row)


async def mark_sent(prompt_id: UUID) -> None:
    await db.execute("UPDATE sms_prompts SET sent_at = coalesce(sent_at, now()) WHERE id = $1", prompt_id)


async def close_expired(*, limit: int = 500) -> list[UUID]:
    """Close open prompts whose time is up, so their codes are free again (periodic; idempotent)."""
    rows = await db.fetch(
        "UPDATE sms_prompts SET closed_at = now(), outcome = 'expired' WHERE id IN (SELECT id FROM sms_prompts"
        " WHERE closed_at IS NULL AND expires_at <= now() ORDER BY expires_at LIMIT $1 FOR UPDATE SKIP LOCKED)"
        " RETURNING id",
        limit,
    )
    return [r["id"] for r in rows]
