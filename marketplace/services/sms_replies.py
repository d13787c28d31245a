"""A resident's Y/N reply to an SMS prompt (marketplace.sms), acted on through the services the API uses.

The reply names its prompt by the sender's phone and the 4-digit code ("Y 1234", "1234 N", "是 1234"), or by
the phone alone when it has exactly one open prompt (a bare "Y"). Then, as the resident:

- proxy booking, Y: nothing to change; the prompt records that the resident confirmed;
- proxy booking, N: `bookings.cancel` (the resident's cancellation: the place freed, the waitlist promoted);
- held place, Y: `holds.confirm`; N: `bookings.cancel` of the held booking (declined, the place passes on).

Every reply has exactly one effect however often the gateway delivers it: its message id is claimed in the same
unit of work (`linli.idempotency.claim`), and the prompt is locked and closed when answered, so a second reply
to it (or a racing one) finds it closed. A reply that matches nothing (unknown phone or code, an answered or
expired prompt, several open prompts and no code, unreadable text) changes nothing. A reply the service
refuses (the hold ran out a moment ago, the booking was cancelled meanwhile) closes the prompt with that
refusal's code as its outcome, and changes nothing else.

Lock order: prompt → slot → booking, and the prompt's UPDATE is the last statement, so a booking that opens a
prompt for the same phone and code (waiting on that row's index entry) never waits in a cycle with a reply.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from linli import db, idempotency
from linli.auth.security import load_user
from linli.errors import DomainError
from marketplace import sms
from marketplace.services import bookings, holds

YES = "Y"
NO = "N"
_WORDS = {"Y": YES, "YES": YES, "是": YES, "确认": YES, "N": NO, "NO": NO, "否": NO, "取消": NO}
_REPLY = re.compile(r"^(?:(?P<lead>\d{4})\s*)?(?P<word>[A-Z]+|是|确认|否|取消)\s*(?P<code>\d{4})?[。.!!]?$")

# Outcomes (besides a refusing service's error code), as the webhook reports them.
REPLAYED = "replayed"
NOT_UNDERSTOOD = "not_understood"
NO_OPEN_PROMPT = "no_open_prompt"
AMBIGUOUS = "ambiguous"
CONFIRMED = "confirmed"
CANCELLED = "cancelled"
DECLINED = "declined"

_PROMPT_COLUMNS = "id, kind, booking_id, resident_id"


@dataclass(frozen=True)
class Reply:
    """One inbound text as the gateway reports it."""

    message_id: str
    phone: str
    text: str


@dataclass(frozen=True)
class Handled:
    outcome: str
    prompt_id: UUID | None = None


def parse(text: str) -> tuple[str, str | None] | None:
    """(Y or N, code or None) of a reply; None when it is neither. Full-width letters and digits count."""
    cleaned = unicodedata.normalize("NFKC", text).strip().upper()
    match = _REPLY.match(cleaned)
    if match is None or match["word"] not in _WORDS or (match["lead"] and match["code"]):
        return None
    return _WORDS[match["word"]], match["lead"] or match["code"]


def normalise_phone(phone: str) -> str:
    """A mainland mobile number as users register it: 11 digits, without +86 / 0086."""
    digits = re.sub(r"\D", "", phone)
    for prefix in ("0086", "86"):
        if len(digits) == 11 + len(prefix) and digits.startswith(prefix):
            return digits[len(prefix) :]
    return digits


async def _open_prompt(phone: str, code: str | None) -> Any | str:
    """The prompt the reply answers, locked; or why there is none."""
    if code is not None:
        row = await db.fetchrow(
            f"SELECT {_PROMPT_COLUMNS} FROM sms_prompts WHERE phone = $1 AND reply_code = $2"
            " AND closed_at IS NULL AND expires_at > now() FOR UPDATE",
            phone,
            code,
        )
        return row if row is not None else NO_OPEN_PROMPT
    rows = await db.fetch(
        f"SELECT {_PROMPT_COLUMNS} FROM sms_prompts WHERE phone = $1 AND closed_at IS NULL AND expires_at > now()"
        " ORDER BY created_at, id LIMIT 2 FOR UPDATE",
        phone,
    )
    if not rows:
        return NO_OPEN_PROMPT
    return rows[0] if len(rows) == 1 else AMBIGUOUS


async def _act(prompt: Any, answer: str) -> str:
    resident = await load_user(prompt["resident_id"])
    if resident is None:  # the account is gone: nobody to act for
        return NO_OPEN_PROMPT
    booking_id = prompt["booking_id"]
    if prompt["kind"] == sms.HELD_PLACE:
        if answer == YES:
            await holds.confirm(actor=resident, booking_id=booking_id)
            return CONFIRMED
        await bookings.cancel(actor=resident, booking_id=booking_id, reason="居民短信回复放弃")
        return DECLINED
    if answer == NO:
        await bookings.cancel(actor=resident, booking_id=booking_id, reason="居民短信回复取消")
        return CANCELLED
    status = await db.fetchval("SELECT status FROM bookings WHERE id = $1", booking_id)
    return CONFIRMED if status in bookings.ACTIVE else f"booking_{status}"


async def handle(*, reply: Reply) -> Handled:
    """Act on one inbound reply, at most once per gateway message id. Call inside a unit of work."""
    if not await idempotency.claim(consumer="sms.inbound", key=reply.message_id):
        return Handled(REPLAYED)
    parsed = parse(reply.text)
    if parsed is None:
        return Handled(NOT_UNDERSTOOD)
    answer, code = parsed
    prompt = await _open_prompt(normalise_phone(reply.phone), code)
    if isinstance(prompt, str):
        return Handled(prompt)
    try:
        # A savepoint: a refusal undoes the service's partial work, never the claim or the prompt's answer.
        async with db.connection() as conn, conn.transaction():
            outcome = await _act(prompt, answer)
    except DomainError as refused:
        outcome = refused.code
    await db.execute(
        "UPDATE sms_prompts SET answer = $2, answered_at = now(), reply_message_id = $3, outcome = $4,"
        " closed_at = now() WHERE id = $1",
        prompt["id"],
        answer,
        reply.message_id,
        outcome,
    )
    return Handled(outcome, prompt["id"])
