"""Helpers for the welfare fund's stories: partners and completed bookings written with SQL fixtures.

Bookings belong to the marketplace; these tests only need *completed* bookings as the marketplace leaves them
(status 'completed', completed_period, price_fen, subsidy_fen, agreement_id, share_rate_bp), so they are
inserted directly rather than driven through the booking flow.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID, uuid4

from linli import db
from tests.api import CommunitySetup, Person, community_with_staff, grant, sign_up

API = "/api/v1"


@dataclass
class FundSetup:
    community: CommunitySetup
    resident: Person

    @property
    def id(self) -> str:
        return self.community.id

    @property
    def admin(self) -> Person:
        return self.community.admin

    @property
    def staff(self) -> Person:
        return self.community.staff


async def fund_setup(client: Any, name: str = "光阳社区") -> FundSetup:
    """A community with an admin, a staff member and one resident."""
    c = await community_with_staff(client, name)
    resident = await sign_up(client, "陈阿婆")
    await grant(client, c.admin, c.id, resident, "resident")
    return FundSetup(community=c, resident=resident)


async def partner(
    community_id: str, created_by: str, *, name: str = "近邻食堂", rate_bp: int = 500
) -> tuple[UUID, UUID]:
    """An approved partner with an agreement at `rate_bp`; returns (partner id, agreement id)."""
    partner_id, agreement_id = uuid4(), uuid4()
    await db.execute(
        "INSERT INTO partners (id, community_id, name, kind, status, created_by) VALUES ($1, $2, $3, 'canteen',"
        " 'approved', $4)",
        partner_id,
        UUID(community_id),
        name,
        UUID(created_by),
    )
    await db.execute(
        "INSERT INTO revenue_share_agreements (id, partner_id, community_id, rate_bp, effective_from, version,"
        " created_by) VALUES ($1, $2, $3, $4, DATE '2020-01-01', 1, $5)",
        agreement_id,
        partner_id,
        UUID(community_id),
        rate_bp,
        UUID(created_by),
    )
    return partner_id, agreement_id


async def complete_bookings(
    community_id: str,
    partner_id: UUID,
    resident_id: str,
    *,
    prices: list[int],
    subsidies: list[int] | None = None,
    rate_bp: int = 500,
    agreement_id: UUID | None = None,
    period: str = "2026-10",
    category: str = "meal",
) -> list[UUID]:
    """Completed bookings of `partner_id` in `period`, one per price (with optional subsidies)."""
    subsidies = subsidies or [0] * len(prices)
    offering_id = await db.fetchval(
        "SELECT id FROM offerings WHERE partner_id = $1 AND category = $2 LIMIT 1", partner_id, category
    )
    if offering_id is None:
        offering_id = uuid4()
        await db.execute(
            "INSERT INTO offerings (id, partner_id, community_id, title, category, price_fen, status)"
            " VALUES ($1, $2, $3, '助餐', $4, 1500, 'published')",
            offering_id,
            partner_id,
            UUID(community_id),
            category,
        )
    ids = [uuid4() for _ in prices]
    await db.execute(
        "INSERT INTO bookings (id, community_id, partner_id, offering_id, kind, category, resident_id, booked_by,"
        " quantity, unit_price_fen, price_fen, subsidy_fen, payable_fen, status, completed_at, completed_period,"
        " agreement_id, share_rate_bp)"
        " SELECT i, $2, $3, $4, 'order', $5, $6, $6, 1, p, p, s, p - s, 'completed',"
        " ($7 || '-15 12:00:00+08')::timestamptz, $7, $8, $9"
        " FROM unnest($1::uuid[], $10::int[], $11::int[]) AS x(i, p, s)",
        ids,
        UUID(community_id),
        partner_id,
        offering_id,
        category,
        UUID(resident_id),
        period,
        agreement_id,
        rate_bp,
        prices,
        subsidies,
    )
    return ids


async def deposit(client: Any, fund: FundSetup, amount_fen: int, memo: str = "区民政局拨款", **extra: Any) -> Any:
    return await client.post(
        f"{API}/communities/{fund.id}/welfare-fund/deposits",
        json={"amount_fen": amount_fen, "memo": memo, **extra},
        headers=fund.admin.headers,
    )


async def balance(client: Any, fund: FundSetup) -> int:
    r = await client.get(f"{API}/communities/{fund.id}/welfare-fund", headers=fund.staff.headers)
    assert r.status_code == 200, r.text
    return int(r.json()["balance_fen"])


async def ledger_counts() -> tuple[int, int]:
    tx = await db.fetchval("SELECT count(*) FROM welfare_transactions")
    entries = await db.fetchval("SELECT count(*) FROM welfare_entries")
    return int(tx), int(entries)


async def unbalanced_transactions() -> int:
    return int(
        await db.fetchval(
            "SELECT count(*) FROM (SELECT t.id FROM welfare_transactions t LEFT JOIN welfare_entries e"
            " ON e.transaction_id = t.id GROUP BY t.id HAVING coalesce(sum(e.amount_fen), 0) <> 0"
            " OR count(e.id) < 2) x"
        )
    )


async def fund_balance_sql(community_id: str) -> int:
    return int(
        await db.fetchval(
            "SELECT coalesce(sum(e.amount_fen), 0) FROM welfare_entries e JOIN welfare_accounts a"
            " ON a.id = e.account_id WHERE a.community_id = $1 AND a.key = 'fund'",
            UUID(community_id),
        )
    )


def expected_share(prices: list[int], rate_bp: int) -> int:
    """Independent statement of the rule: floor(price × rate / 10000) per booking, summed."""
    return sum(p * rate_bp // 10_000 for p in prices)


async def drain_settlement_events(seen: set[str] | None = None) -> int:
    """Play the outbox's settlement events into the actors in-process (what the relay and a worker do)."""
    import json

    from welfare import tasks
    from welfare.services import settlement

    handlers = {settlement.TOPIC_REQUESTED: tasks.fan_out, settlement.TOPIC_PARTNER_DUE: tasks.settle_partner}
    seen = seen if seen is not None else set()
    handled = 0
    while True:
        rows = await db.fetch(
            "SELECT id, topic, payload FROM outbox_events WHERE topic = ANY($1::text[]) ORDER BY created_at, id",
            list(handlers),
        )
        fresh = [r for r in rows if str(r["id"]) not in seen]
        if not fresh:
            return handled
        for r in fresh:
            seen.add(str(r["id"]))
            await handlers[r["topic"]](str(r["id"]), json.loads(r["payload"]))
            handled += 1


async def settle(client: Any, fund: FundSetup, period: str, **kwargs: Any) -> dict[str, Any]:
    """Ask for a settlement over HTTP and run it in-process; returns the finished run."""
    r = await client.post(
        f"{API}/communities/{fund.id}/settlements", json={"period": period}, headers=fund.admin.headers, **kwargs
    )
    assert r.status_code == 202, r.text
    await drain_settlement_events()
    run = await client.get(f"{API}/settlements/{r.json()['id']}", headers=fund.staff.headers)
    assert run.status_code == 200, run.text
    return dict(run.json())


async def settled_lines() -> int:
    return int(await db.fetchval("SELECT count(*) FROM settlement_lines"))
