"""Settlement of partners' revenue share and the subsidies the fund owes them — the rule lives here.

A booking's revenue is recognised when it completes: its period is the month of completion in community time,
its gross is the list price (`price_fen` = resident payment + subsidy) and its rate is the agreement in force
at completion (`share_rate_bp`, fixed by the marketplace then). Its share is

    share_fen = floor(price_fen × share_rate_bp / 10000)

computed in integers (the fraction of a fen stays with the partner; a booking without an agreement shares 0).

Settling a period runs as: the 202 handler writes a run and an outbox event in one transaction → the fan-out
actor lists the partners with unsettled bookings and emits one event per partner → each partner's actor, in
ONE database transaction, inserts the partner's unsettled bookings into `settlement_lines` with a single
`INSERT … SELECT … ON CONFLICT (booking_id) DO NOTHING` and posts the sums it actually inserted to the ledger
(partner → fund for the share, fund → partner for the subsidies). `settlement_lines` is keyed by booking, so
a booking is settled exactly once: a duplicated message, a concurrent run of the same period, or a worker
killed mid-way (its transaction rolls back whole) cannot settle it twice, and running again only picks up
bookings that are not settled yet.
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID, uuid4

from community import access
from community import services as community
from linli import audit, db, outbox
from linli.auth.security import CurrentUser
from linli.errors import Forbidden, NotFound
from partners import services as partner_services
from welfare import periods
from welfare.errors import SETTLEMENT_NOT_FOUND, STATEMENT_PARTNER_NOT_FOUND
from welfare.schemas import SettlementRunOut, StatementLineOut, StatementOut
from welfare.services import ledger

TOPIC_REQUESTED = "welfare.settlement_requested"
TOPIC_PARTNER_DUE = "welfare.settlement_partner_due"

BP_DENOMINATOR = 10_000


def share_of(price_fen: int, share_rate_bp: int | None) -> int:
    """The fund's share of one booking: floor(price × rate / 10000), integers only (mirrors the SQL below)."""
    return (price_fen * (share_rate_bp or 0)) // BP_DENOMINATOR


# The same rule, set-based: price_fen and share_rate_bp are non-negative, so integer division is floor.
SHARE_SQL = "(b.price_fen::bigint * coalesce(b.share_rate_bp, 0)) / 10000"


def lock_key(partner_id: UUID, period: str) -> str:
    """Advisory-lock key serialising settlement of one partner's period across runs and workers."""
    return f"welfare.settle:{partner_id}:{period}"


async def request(
    *, actor: CurrentUser | None, community_id: UUID, period: str, trigger: str = "manual"
) -> SettlementRunOut:
    """Queue the settlement of `period` (community admins; the schedule passes no actor)."""
    if actor is not None:
        await access.require_role(actor, community_id, "admin")
    timezone = await community.timezone_of(community_id=community_id)
    periods.ensure_not_future(period, timezone)
    run_id = uuid4()
    await db.execute(
        "INSERT INTO settlement_runs (id, community_id, period, status, trigger, requested_by, created_at)"
        " VALUES ($1, $2, $3, 'queued', $4, $5, now())",
        run_id,
        community_id,
        period,
        trigger,
        actor.id if actor else None,
    )
    await outbox.emit(topic=TOPIC_REQUESTED, payload={"run_id": str(run_id)})
    await audit.record(
        actor_user_id=actor.id if actor else None,
        action="welfare.settlement_requested",
        object_type="settlement_run",
        object_id=run_id,
        community_id=community_id,
        detail={"period": period, "trigger": trigger},
    )
    return await _run(run_id)


async def fan_out(*, run_id: UUID) -> int:
    """Start a queued run: one batch (and one outbox event) per partner with unsettled bookings.

    Idempotent: only the first delivery finds the run queued. Returns the number of partners.
    """
    run = await db.fetchrow("SELECT community_id, period, status FROM settlement_runs WHERE id = $1 FOR UPDATE", run_id)
    if run is None or run["status"] != "queued":
        return 0
    partners = await db.fetch(
        "SELECT DISTINCT b.partner_id FROM bookings b WHERE b.community_id = $1 AND b.completed_period = $2"
        " AND b.status = 'completed' AND NOT EXISTS (SELECT 1 FROM settlement_lines l WHERE l.booking_id = b.id)",
        run["community_id"],
        run["period"],
    )
    batch_ids = [uuid4() for _ in partners]
    await db.execute(
        "INSERT INTO settlement_run_partners (id, run_id, community_id, partner_id, period, status, bookings,"
        " gross_fen, share_fen, subsidies_fen) SELECT b, $1, $2, p, $3, 'queued', 0, 0, 0, 0"
        " FROM unnest($4::uuid[], $5::uuid[]) AS x(b, p)",
        run_id,
        run["community_id"],
        run["period"],
        batch_ids,
        [p["partner_id"] for p in partners],
    )
    for batch_id in batch_ids:
        await outbox.emit(topic=TOPIC_PARTNER_DUE, payload={"batch_id": str(batch_id)})
    await _supersede_older(run_id=run_id, community_id=run["community_id"], period=run["period"])
    status = "running" if partners else "completed"
    await db.execute(
        "UPDATE settlement_runs SET status = $2, partners_total = $3, started_at = now(),"
        " finished_at = CASE WHEN $4 THEN now() END WHERE id = $1",
        run_id,
        status,
        len(partners),
        not partners,
    )
    return len(partners)


async def _supersede_older(*, run_id: UUID, community_id: UUID, period: str) -> None:
    """Hand older runs' batches that never ran (e.g. their worker was killed) over to this run.

    This run already covers every booking still unsettled, so those batches are marked `superseded` and their
    runs can finish; should such a batch's message still arrive, it finds nothing to do.
    """
    older = await db.fetch(
        "UPDATE settlement_run_partners SET status = 'superseded' WHERE community_id = $1 AND period = $2"
        " AND run_id <> $3 AND status = 'queued' RETURNING run_id",
        community_id,
        period,
        run_id,
    )
    if older:
        await db.execute(
            "UPDATE settlement_runs r SET status = 'completed', finished_at = now() WHERE r.id = ANY($1::uuid[])"
            " AND r.status = 'running' AND NOT EXISTS (SELECT 1 FROM settlement_run_partners p"
            " WHERE p.run_id = r.id AND p.status = 'queued')",
            list({r["run_id"] for r in older}),
        )


@dataclass(frozen=True)
class BatchResult:
    bookings: int
    gross_fen: int
    share_fen: int
    subsidies_fen: int


async def settle_partner(*, batch_id: UUID) -> BatchResult | None:
    """Settle one partner's unsettled bookings of the run's period, in the caller's (single) transaction.

    Returns None when the batch was already done (a duplicated message).
    """
    batch = await db.fetchrow(
        "SELECT run_id, community_id, partner_id, period, status FROM settlement_run_partners WHERE id = $1",
        batch_id,
    )
    if batch is None or batch["status"] != "queued":
        return None
    community_id, partner_id, period = batch["community_id"], batch["partner_id"], batch["period"]
    # Concurrent runs of the same partner and period queue here; the later one then finds nothing new.
    await db.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", lock_key(partner_id, period))
    if await db.fetchval("SELECT status FROM settlement_run_partners WHERE id = $1", batch_id) != "queued":
        return None
    totals = await db.fetchrow(
        "WITH settled AS ("
        " INSERT INTO settlement_lines (booking_id, batch_id, community_id, partner_id, period, category,"
        " agreement_id, price_fen, share_rate_bp, share_fen, subsidy_fen, completed_at)"
        f" SELECT b.id, $1, b.community_id, b.partner_id, b.completed_period, b.category, b.agreement_id,"
        f" b.price_fen, coalesce(b.share_rate_bp, 0), {SHARE_SQL}, b.subsidy_fen, b.completed_at"
        " FROM bookings b WHERE b.partner_id = $2 AND b.community_id = $3 AND b.completed_period = $4"
        " AND b.status = 'completed'"
        # No anti-join here: ON CONFLICT probes the primary key per row, whereas NOT EXISTS made the planner
        # hash the whole (growing) settlement_lines table once per partner.
        " ORDER BY b.id"
        " ON CONFLICT (booking_id) DO NOTHING"
        " RETURNING price_fen, share_fen, subsidy_fen)"
        " SELECT count(*) AS n, coalesce(sum(price_fen), 0) AS gross, coalesce(sum(share_fen), 0) AS share,"
        " coalesce(sum(subsidy_fen), 0) AS subsidies FROM settled",
        batch_id,
        partner_id,
        community_id,
        period,
    )
    assert totals is not None
    result = BatchResult(
        bookings=int(totals["n"]),
        gross_fen=int(totals["gross"]),
        share_fen=int(totals["share"]),
        subsidies_fen=int(totals["subsidies"]),
    )
    share_tx = subsidy_tx = None
    if result.share_fen or result.subsidies_fen:
        fund = await ledger.fund_account(community_id=community_id)
        partner = await ledger.partner_account(community_id=community_id, partner_id=partner_id)
        if result.share_fen:
            share_tx = (
                await ledger.post(
                    community_id=community_id,
                    kind="share",
                    source_type="settlement",
                    source_id=batch_id,
                    period=period,
                    entries=[(partner, -result.share_fen), (fund, result.share_fen)],
                    memo=f"{period} 收益反哺 ({result.bookings} 单)",
                )
            ).id
        if result.subsidies_fen:
            subsidy_tx = (
                await ledger.post(
                    community_id=community_id,
                    kind="subsidy",
                    source_type="settlement",
                    source_id=batch_id,
                    period=period,
                    entries=[(fund, -result.subsidies_fen), (partner, result.subsidies_fen)],
                    memo=f"{period} 重点人群补贴",
                )
            ).id
    await db.execute(
        "UPDATE settlement_run_partners SET status = 'done', bookings = $2, gross_fen = $3, share_fen = $4,"
        " subsidies_fen = $5, share_transaction_id = $6, subsidy_transaction_id = $7, settled_at = now()"
        " WHERE id = $1",
        batch_id,
        result.bookings,
        result.gross_fen,
        result.share_fen,
        result.subsidies_fen,
        share_tx,
        subsidy_tx,
    )
    # Lock the run before looking at its other batches: the last batch to commit then sees all the others.
    await db.execute("SELECT 1 FROM settlement_runs WHERE id = $1 FOR UPDATE", batch["run_id"])
    await db.execute(
        "UPDATE settlement_runs SET status = 'completed', finished_at = now() WHERE id = $1 AND status = 'running'"
        " AND NOT EXISTS (SELECT 1 FROM settlement_run_partners WHERE run_id = $1 AND status = 'queued')",
        batch["run_id"],
    )
    return result


async def request_all(*, period: str) -> int:
    """The monthly schedule: queue `period` for every community that has something to settle in it (once
    per community and period; a community with no unsettled completed booking needs no run)."""
    from linli import idempotency

    count = 0
    due = await db.fetch(
        "SELECT DISTINCT b.community_id FROM bookings b WHERE b.completed_period = $1 AND b.status = 'completed'"
        " AND NOT EXISTS (SELECT 1 FROM settlement_lines l WHERE l.booking_id = b.id) ORDER BY b.community_id",
        period,
    )
    for row in due:
        community_id = row["community_id"]
        if await idempotency.claim(consumer="welfare.monthly_settlement", key=f"{period}:{community_id}"):
            await request(actor=None, community_id=community_id, period=period, trigger="schedule")
            count += 1
    return count


async def _run(run_id: UUID) -> SettlementRunOut:
    row = await db.fetchrow(
        "SELECT r.id, r.community_id, r.period, r.status, r.trigger, r.partners_total, r.created_at,"
        " r.started_at, r.finished_at,"
        " count(p.id) FILTER (WHERE p.status = 'done') AS partners_done,"
        " count(p.id) FILTER (WHERE p.status = 'superseded') AS partners_superseded,"
        " coalesce(sum(p.bookings), 0) AS bookings_settled, coalesce(sum(p.gross_fen), 0) AS gross_fen,"
        " coalesce(sum(p.share_fen), 0) AS share_fen, coalesce(sum(p.subsidies_fen), 0) AS subsidies_fen"
        " FROM settlement_runs r LEFT JOIN settlement_run_partners p ON p.run_id = r.id"
        " WHERE r.id = $1 GROUP BY r.id",
        run_id,
    )
    if row is None:
        raise NotFound("no such settlement run", code=SETTLEMENT_NOT_FOUND)
    total = row["partners_total"]
    if row["status"] == "completed":
        percent = 100
    elif not total:
        percent = 0
    else:
        percent = (int(row["partners_done"]) + int(row["partners_superseded"])) * 100 // int(total)
    data = dict(row)
    data.update(
        partners_done=int(row["partners_done"]),
        partners_superseded=int(row["partners_superseded"]),
        bookings_settled=int(row["bookings_settled"]),
        gross_fen=int(row["gross_fen"]),
        share_fen=int(row["share_fen"]),
        subsidies_fen=int(row["subsidies_fen"]),
        progress_percent=percent,
    )
    return SettlementRunOut(**data)


async def get(*, actor: CurrentUser, run_id: UUID) -> SettlementRunOut:
    """A run's status and progress (community staff of its community; others get 404)."""
    community_id = await db.fetchval("SELECT community_id FROM settlement_runs WHERE id = $1", run_id)
    if community_id is None or not await access.has_role(actor, community_id, "staff"):
        raise NotFound("no such settlement run", code=SETTLEMENT_NOT_FOUND)
    return await _run(run_id)


async def get_all(
    *, actor: CurrentUser, community_id: UUID, limit: int = 50, offset: int = 0
) -> list[SettlementRunOut]:
    await access.require_role(actor, community_id, "staff")
    ids = await db.fetch(
        "SELECT id FROM settlement_runs WHERE community_id = $1 ORDER BY created_at DESC, id LIMIT $2 OFFSET $3",
        community_id,
        limit,
        offset,
    )
    return [await _run(r["id"]) for r in ids]


async def statement(*, actor: CurrentUser, partner_id: UUID, period: str) -> StatementOut:
    """对账单 of one partner for one period: every settled booking, gross, share, subsidies and net.

    Readable by the partner's own members and by staff of its community.
    """
    periods.check_format(period)
    partner = await db.fetchrow("SELECT id, name, community_id FROM partners WHERE id = $1", partner_id)
    if partner is None:
        raise NotFound("no such partner", code=STATEMENT_PARTNER_NOT_FOUND)
    member = await partner_services.member_role(partner_id=partner_id, user_id=actor.id)
    if member is None and not await access.has_role(actor, partner["community_id"], "staff"):
        raise Forbidden("only the partner's members and community staff see its statements")
    lines = await db.fetch(
        "SELECT booking_id, completed_at, category, price_fen, share_rate_bp, share_fen, subsidy_fen"
        " FROM settlement_lines WHERE partner_id = $1 AND period = $2 ORDER BY completed_at, booking_id",
        partner_id,
        period,
    )
    unsettled = await db.fetchval(
        "SELECT count(*) FROM bookings b WHERE b.partner_id = $1 AND b.completed_period = $2"
        " AND b.status = 'completed' AND NOT EXISTS (SELECT 1 FROM settlement_lines l WHERE l.booking_id = b.id)",
        partner_id,
        period,
    )
    out_lines = [
        StatementLineOut(
            booking_id=r["booking_id"],
            completed_at=r["completed_at"],
            category=r["category"],
            price_fen=int(r["price_fen"]),
            share_rate_bp=int(r["share_rate_bp"]),
            share_fen=int(r["share_fen"]),
            subsidy_fen=int(r["subsidy_fen"]),
        )
        for r in lines
    ]
    share = sum(line.share_fen for line in out_lines)
    subsidies = sum(line.subsidy_fen for line in out_lines)
    return StatementOut(
        partner_id=partner_id,
        partner_name=partner["name"],
        community_id=partner["community_id"],
        period=period,
        bookings=len(out_lines),
        gross_fen=sum(line.price_fen for line in out_lines),
        share_fen=share,
        subsidies_fen=subsidies,
        net_fen=share - subsidies,
        unsettled_bookings=int(unsettled),
        lines=out_lines,
    )


def statement_csv(statement_out: StatementOut) -> str:
    """The statement as CSV (UTF-8 with BOM so spreadsheet software shows the Chinese headers)."""
    import csv
    import io

    buf = io.StringIO()
    buf.write("\ufeff")
    w = csv.writer(buf)
    w.writerow(["合伙人", statement_out.partner_name, "账期", statement_out.period])
    w.writerow(["booking_id", "completed_at", "category", "price_fen", "share_rate_bp", "share_fen", "subsidy_fen"])
    for line in statement_out.lines:
        w.writerow(
            [
                line.booking_id,
                line.completed_at.isoformat() if line.completed_at else "",
                line.category,
                line.price_fen,
                line.share_rate_bp,
                line.share_fen,
                line.subsidy_fen,
            ]
        )
    w.writerow([])
    w.writerow(["bookings", "gross_fen", "share_fen", "subsidies_fen", "net_fen"])
    w.writerow(
        [
            statement_out.bookings,
            statement_out.gross_fen,
            statement_out.share_fen,
            statement_out.subsidies_fen,
            statement_out.net_fen,
        ]
    )
    return buf.getvalue()
