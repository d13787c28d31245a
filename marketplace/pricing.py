"""Subsidy pricing: the one place that decides what a resident pays and what the welfare fund pays.

The rule:
- The unit price is the lowest of the list price and the subsidised price of every priority group the resident
  holds in the offering's community (best price wins; a subsidy above the list price is ignored).
- `per_resident_daily_limit` caps the *subsidised* units a resident gets of one offering per community-local day
  (the day the service takes place: the slot's local start date, or the day an on-demand order is placed).
  Units beyond the limit are sold at the list price, not refused: "one subsidised meal a day" still lets a
  resident buy a second meal at the normal price. Residents without a subsidy are not limited.
- The snapshot: `price_fen` = list × quantity (the partner's gross), `subsidy_fen` = (list − unit) × subsidised
  units (paid by the welfare fund), `payable_fen` = `price_fen` − `subsidy_fen` (paid by the resident).
  `unit_price_fen` is the resident's unit price (the subsidised one when any unit is subsidised).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any
from uuid import UUID

from linli import db

# Bookings that hold (or held) a subsidised unit for the day: cancelled ones give their allowance back.
_COUNTED_STATUSES = ("held", "confirmed", "accepted", "completed", "no_show")


@dataclass(frozen=True)
class Quote:
    list_price_fen: int
    unit_price_fen: int
    quantity: int
    subsidised_quantity: int
    price_fen: int
    subsidy_fen: int
    payable_fen: int
    priority_group: str | None


def quote(
    *,
    list_price_fen: int,
    subsidies: Mapping[str, Any],
    groups: Iterable[str],
    quantity: int,
    daily_limit: int | None,
    subsidised_already: int,
) -> Quote:
    """Price `quantity` units for a resident in `groups`, `subsidised_already` units into today's limit."""
    best_group: str | None = None
    best_fen = list_price_fen
    for group in sorted(set(groups)):
        fen = subsidies.get(group)
        # bool is an int subclass: never treat `true` as 1 fen.
        if isinstance(fen, int) and not isinstance(fen, bool) and 0 <= fen < best_fen:
            best_group, best_fen = group, fen
    subsidised = 0
    if best_group is not None:
        allowance = quantity if daily_limit is None else max(0, daily_limit - subsidised_already)
        subsidised = min(quantity, allowance)
    if subsidised == 0:
        best_group, best_fen = None, list_price_fen
    price_fen = list_price_fen * quantity
    subsidy_fen = (list_price_fen - best_fen) * subsidised
    return Quote(
        list_price_fen=list_price_fen,
        unit_price_fen=best_fen,
        quantity=quantity,
        subsidised_quantity=subsidised,
        price_fen=price_fen,
        subsidy_fen=subsidy_fen,
        payable_fen=price_fen - subsidy_fen,
        priority_group=best_group,
    )


def parse_subsidies(raw: Any) -> dict[str, Any]:
    """JSONB arrives from asyncpg as text."""
    if isinstance(raw, str):
        raw = json.loads(raw or "{}")
    return dict(raw or {})


def needs_daily_count(first: Quote, daily_limit: int | None) -> bool:
    """Whether today's subsidised units must be counted before pricing: only when a daily limit applies and the
    resident would get a subsidised price at all (`first` is `quote` without the limit)."""
    return daily_limit is not None and first.subsidised_quantity > 0


async def quote_for(
    *,
    resident_id: UUID,
    offering_id: UUID,
    list_price_fen: int,
    subsidies: Mapping[str, Any],
    groups: Iterable[str],
    quantity: int,
    daily_limit: int | None,
    service_day: date,
    timezone: str,
) -> Quote:
    """`quote` with today's subsidised units counted from the database (call inside the booking's unit of work).

    When a limit applies, an advisory lock on (resident, offering, day) serialises the resident's concurrent
    bookings, so two racing requests cannot both take the last subsidised unit.
    """
    groups = list(groups)
    first = quote(
        list_price_fen=list_price_fen,
        subsidies=subsidies,
        groups=groups,
        quantity=quantity,
        daily_limit=None,
        subsidised_already=0,
    )
    if not needs_daily_count(first, daily_limit):
        return first
    await db.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", f"subsidy:{resident_id}:{offering_id}:{service_day}"
    )
    already = await db.fetchval(
        "SELECT coalesce(sum(b.subsidised_quantity), 0) FROM bookings b LEFT JOIN slots s ON s.id = b.slot_id"
        " WHERE b.resident_id = $1 AND b.offering_id = $2 AND b.status = ANY($5::text[])"
        " AND (coalesce(s.starts_at, b.created_at) AT TIME ZONE $4)::date = $3",
        resident_id,
        offering_id,
        service_day,
        timezone,
        list(_COUNTED_STATUSES),
    )
    return quote(
        list_price_fen=list_price_fen,
        subsidies=subsidies,
        groups=groups,
        quantity=quantity,
        daily_limit=daily_limit,
        subsidised_already=int(already),
    )
