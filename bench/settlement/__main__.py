"""Settlement at scale: `python -m bench.settlement [--bookings 1000000] [--partners 50] [--concurrency 1]`.

In one run:
  1. creates a scratch database, migrates it and seeds one community with `--partners` partners (each with its
     own agreement rate) and `--bookings` completed bookings of one period, interleaved across partners as they
     would arrive in time (`INSERT … SELECT … FROM generate_series`), then ANALYZE;
  2. baseline: ONE raw `INSERT INTO <copy of settlement_lines> SELECT … FROM bookings` of the same rows, with
     the same share rule and the same indexes — no ledger, no batches, no exactly-once guard;
  3. settlement: the real code path the workers run (`settlement.request` → `fan_out` → `settle_partner` per
     partner batch, each its own transaction with the `ON CONFLICT (booking_id)` insert and the ledger
     postings), timed from request to the last batch committed. Redis delivery is not in the timing (the
     actors are awaited directly, exactly as the Dramatiq actors call them);
  4. verifies every booking settled once, every transaction balanced and `reconcile` exact; prints both times
     and the ratio against the targets (≤ 30 s, ≤ 2× the raw figure).

Needs PostgreSQL (LINLI_BENCH_ADMIN_DSN, default the local one). `--keep` keeps the scratch database.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
import uuid
from collections.abc import Sequence

import asyncpg

from bench import progress

ADMIN_DSN = os.environ.get("LINLI_BENCH_ADMIN_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
PERIOD = "2026-10"

LINE_COLUMNS = (
    "booking_id, batch_id, community_id, partner_id, period, category, agreement_id, price_fen, share_rate_bp,"
    " share_fen, subsidy_fen, completed_at"
)


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(ADMIN_DSN)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def seed(db: asyncpg.Connection, *, bookings: int, partners: int) -> uuid.UUID:
    community_id, user_id = uuid.uuid4(), uuid.uuid4()
    await db.execute("INSERT INTO communities (id, name) VALUES ($1, '压测社区')", community_id)
    await db.execute(
        "INSERT INTO users (id, phone, name, password_hash) VALUES ($1, '13900000000', '压测', 'x')", user_id
    )
    await db.execute(
        "INSERT INTO partners (id, community_id, name, kind, status, created_by)"
        " SELECT gen_random_uuid(), $1, '合伙人' || g, 'canteen', 'approved', $2 FROM generate_series(1, $3) g",
        community_id,
        user_id,
        partners,
    )
    await db.execute(
        "INSERT INTO revenue_share_agreements (id, partner_id, community_id, rate_bp, effective_from, version,"
        " created_by) SELECT gen_random_uuid(), p.id, p.community_id, 300 + (row_number() OVER (ORDER BY p.id)"
        " * 37) % 1200, DATE '2026-01-01', 1, $1 FROM partners p",
        user_id,
    )
    await db.execute(
        "INSERT INTO offerings (id, partner_id, community_id, title, category, price_fen, status)"
        " SELECT gen_random_uuid(), p.id, p.community_id, '助餐', 'meal', 1500, 'published' FROM partners p"
    )
    # Partner k of booking g is g mod partners: each partner's bookings are spread over the whole table,
    # as bookings arriving over a month are.
    await db.execute(
        "WITH p AS (SELECT row_number() OVER (ORDER BY id) - 1 AS k, id, community_id FROM partners),"
        " a AS (SELECT partner_id, id, rate_bp FROM revenue_share_agreements),"
        " o AS (SELECT partner_id, id FROM offerings)"
        " INSERT INTO bookings (id, community_id, partner_id, offering_id, kind, category, resident_id, booked_by,"
        " quantity, unit_price_fen, price_fen, subsidy_fen, payable_fen, status, completed_at, completed_period,"
        " agreement_id, share_rate_bp)"
        " SELECT gen_random_uuid(), p.community_id, p.id, o.id, 'order', 'meal', $1, $1, 1, x.price, x.price,"
        " x.subsidy, x.price - x.subsidy, 'completed', timestamptz '2026-10-01 08:00+08' + (g % 2592000) * interval"
        " '1 second', $2, a.id, a.rate_bp"
        " FROM generate_series(0, $3 - 1) g"
        " CROSS JOIN LATERAL (SELECT 500 + ((g::bigint * 7919) % 4500)::int AS price) pr"
        " CROSS JOIN LATERAL (SELECT pr.price AS price, CASE WHEN g % 4 = 0 THEN pr.price / 3 ELSE 0 END AS subsidy) x"
        " JOIN p ON p.k = g % $4 JOIN a ON a.partner_id = p.id JOIN o ON o.partner_id = p.id",
        user_id,
        PERIOD,
        bookings,
        partners,
    )
    await db.execute("ANALYZE")
    return community_id


async def baseline(db: asyncpg.Connection, community_id: uuid.UUID) -> float:
    """One raw INSERT … SELECT of the same rows into an identical table (same indexes), timed."""
    from welfare.services.settlement import SHARE_SQL

    await db.execute("CREATE TABLE bench_raw_lines (LIKE settlement_lines INCLUDING ALL)")
    started = time.perf_counter()
    await db.execute(
        f"INSERT INTO bench_raw_lines ({LINE_COLUMNS}) SELECT b.id, $3, b.community_id, b.partner_id,"
        " b.completed_period, b.category, b.agreement_id, b.price_fen, coalesce(b.share_rate_bp, 0),"
        f" {SHARE_SQL}, b.subsidy_fen, b.completed_at FROM bookings b"
        " WHERE b.community_id = $1 AND b.completed_period = $2 AND b.status = 'completed'",
        community_id,
        PERIOD,
        uuid.uuid4(),
    )
    return time.perf_counter() - started


async def settle(community_id: uuid.UUID, concurrency: int) -> tuple[float, int]:
    """The real settlement path, timed from the request to the last partner batch committed."""
    from linli import db
    from welfare.services import settlement

    started = time.perf_counter()
    async with db.unit_of_work():
        run = await settlement.request(actor=None, community_id=community_id, period=PERIOD, trigger="schedule")
    async with db.unit_of_work():
        await settlement.fan_out(run_id=run.id)
    print(f"  request + fan-out           {time.perf_counter() - started:8.2f} s", flush=True)
    batches = [r["id"] for r in await db.fetch("SELECT id FROM settlement_run_partners WHERE run_id = $1", run.id)]
    queue: asyncio.Queue[uuid.UUID] = asyncio.Queue()
    for b in batches:
        queue.put_nowait(b)

    # One step per partner batch committed: a call of microseconds beside a batch's seconds of SQL.
    shown = progress.bar(total=len(batches), desc="bench.settlement", unit="batch")

    async def work() -> None:
        while not queue.empty():
            batch_id = queue.get_nowait()
            async with db.unit_of_work():
                await settlement.settle_partner(batch_id=batch_id)
            shown.update()

    await asyncio.gather(*[work() for _ in range(concurrency)])
    elapsed = time.perf_counter() - started
    shown.close()
    return elapsed, len(batches)


async def verify(community_id: uuid.UUID, bookings: int) -> list[str]:
    from linli import db
    from welfare.services import reconcile

    problems = []
    lines = await db.fetchval("SELECT count(*) FROM settlement_lines")
    if lines != bookings:
        problems.append(f"{lines} settlement lines for {bookings} bookings")
    raw = await db.fetchrow("SELECT count(*) AS n, sum(share_fen) AS share FROM bench_raw_lines")
    mine = await db.fetchrow("SELECT count(*) AS n, sum(share_fen) AS share FROM settlement_lines")
    if raw is None or mine is None or (raw["n"], raw["share"]) != (mine["n"], mine["share"]):
        problems.append("settlement and baseline disagree")
    result = await reconcile.reconcile(community_id=community_id, period=PERIOD)
    if not result.ok:
        problems.append(result.render())
    return problems


async def run(args: argparse.Namespace) -> int:
    name = f"linli_bench_settle_{uuid.uuid4().hex[:8]}"
    await _admin(f'CREATE DATABASE "{name}"')
    dsn = f"{ADMIN_DSN.rsplit('/', 1)[0]}/{name}"
    os.environ["DATABASE_URL"] = dsn
    from linli import db
    from linli.settings import reload_settings

    reload_settings()
    db.configure(dsn)
    try:
        await db.migrate()
        await db.start_pool()
        print(f"seeding {args.bookings:,} completed bookings over {args.partners} partners …", flush=True)
        t0 = time.perf_counter()
        raw = await asyncpg.connect(dsn)  # no statement timeout for the seed and the baseline
        community_id = await seed(raw, bookings=args.bookings, partners=args.partners)
        print(f"  seeded in {time.perf_counter() - t0:.1f} s", flush=True)
        await raw.fetchval("SELECT count(*) FROM bookings")  # warm the cache for both contenders alike
        raw_s = await baseline(raw, community_id)
        await raw.close()
        print(f"raw INSERT … SELECT           {raw_s:8.2f} s", flush=True)
        settle_s, batches = await settle(community_id, args.concurrency)
        print(f"settlement ({batches} partner batches, concurrency {args.concurrency}) {settle_s:8.2f} s", flush=True)
        ratio = settle_s / raw_s if raw_s else float("inf")
        problems = await verify(community_id, args.bookings)
        print(f"ratio settlement / raw        {ratio:8.2f} ×   (target ≤ 2×)")
        print(f"settlement time               {settle_s:8.2f} s   (target ≤ 30 s)")
        print(f"rate                          {args.bookings / settle_s:,.0f} bookings/s")
        for p in problems:
            print(f"PROBLEM: {p}")
        print("verified: every booking settled once, ledger balanced, reconcile exact" if not problems else "FAILED")
        return 1 if problems else 0
    finally:
        await db.close_pool()
        if not args.keep:
            await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.settlement", description=__doc__.split("\n")[0])
    parser.add_argument("--bookings", type=int, default=1_000_000)
    parser.add_argument("--partners", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=1, help="partner batches settled at once")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    args = parser.parse_args(argv)
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
