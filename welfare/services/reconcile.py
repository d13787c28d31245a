"""Reconciliation: prove, to the fen, that the ledger equals what its sources say it should be.

For a community and period, the fund's movement in the ledger must equal

    Σ floor(price_fen × share_rate_bp / 10000)   over the period's completed bookings   (shares returned)
  − Σ subsidy_fen                                over the same bookings                 (subsidies owed)
  + Σ deposits                                   recorded in the period (less reversals)
  − Σ relief disbursements and voted projects    approved in the period

component by component, per partner, and every transaction must balance and point to an existing source.
The expected side is computed from bookings, deposits and disbursements — never from the ledger itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from uuid import UUID

from linli import db
from welfare.services import ledger
from welfare.services.settlement import SHARE_SQL


@dataclass
class Line:
    name: str
    expected_fen: int
    ledger_fen: int

    @property
    def difference_fen(self) -> int:
        return self.ledger_fen - self.expected_fen


@dataclass
class Reconciliation:
    community_id: UUID
    period: str
    components: list[Line] = field(default_factory=list)
    partners: list[Line] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    unsettled_bookings: int = 0

    @property
    def differences(self) -> list[Line]:
        return [line for line in self.components + self.partners if line.difference_fen != 0]

    @property
    def ok(self) -> bool:
        return not self.differences and not self.problems

    def render(self) -> str:
        out = [f"reconciliation of community {self.community_id}, period {self.period}"]
        out.append(f"{'component':<28}{'expected_fen':>16}{'ledger_fen':>16}{'difference_fen':>16}")
        for line in self.components + self.partners:
            mark = "" if line.difference_fen == 0 else "  <-- MISMATCH"
            out.append(f"{line.name:<28}{line.expected_fen:>16}{line.ledger_fen:>16}{line.difference_fen:>16}{mark}")
        if self.unsettled_bookings:
            out.append(f"note: {self.unsettled_bookings} completed booking(s) of the period are not settled yet")
        out.extend(f"problem: {p}" for p in self.problems)
        out.append("OK: the ledger equals its sources to the fen" if self.ok else "FAILED: differences above")
        return "\n".join(out)


async def _fund_by_kind(community_id: UUID, period: str) -> dict[str, int]:
    rows = await db.fetch(
        "SELECT t.kind, sum(e.amount_fen) AS fen FROM welfare_entries e"
        " JOIN welfare_accounts a ON a.id = e.account_id AND a.key = $3"
        " JOIN welfare_transactions t ON t.id = e.transaction_id"
        " WHERE t.community_id = $1 AND t.period = $2 GROUP BY t.kind",
        community_id,
        period,
        ledger.FUND,
    )
    return {r["kind"]: int(r["fen"]) for r in rows}


# The steps of `reconcile`, each one or a few set-based queries: what a progress bar can count.
RECONCILE_STEPS = ("sources", "ledger", "partners", "integrity")


async def reconcile(*, community_id: UUID, period: str, on_step: Callable[[str], None] | None = None) -> Reconciliation:
    """Compare the ledger with bookings × agreements, deposits and disbursements for one period.

    `on_step` is called with each name of `RECONCILE_STEPS` as that step ends (the CLI's progress bar)."""
    step = on_step or (lambda _name: None)
    result = Reconciliation(community_id=community_id, period=period)
    expected = await db.fetchrow(
        f"SELECT count(*) AS n, coalesce(sum({SHARE_SQL}), 0) AS share, coalesce(sum(b.subsidy_fen), 0) AS subsidies,"
        " count(*) FILTER (WHERE NOT EXISTS (SELECT 1 FROM settlement_lines l WHERE l.booking_id = b.id))"
        " AS unsettled FROM bookings b WHERE b.community_id = $1 AND b.completed_period = $2"
        " AND b.status = 'completed'",
        community_id,
        period,
    )
    assert expected is not None
    result.unsettled_bookings = int(expected["unsettled"])
    deposits = int(
        await db.fetchval(
            "SELECT coalesce(sum(amount_fen), 0) FROM welfare_deposits WHERE community_id = $1 AND period = $2",
            community_id,
            period,
        )
    )
    # A reversal cancels its deposit in the period the reversal was posted.
    reversed_deposits = int(
        await db.fetchval(
            "SELECT coalesce(sum(d.amount_fen), 0) FROM welfare_deposits d JOIN welfare_transactions r"
            " ON r.reverses_id = d.transaction_id WHERE d.community_id = $1 AND r.period = $2",
            community_id,
            period,
        )
    )
    outflows = {
        r["kind"]: int(r["fen"])
        for r in await db.fetch(
            "SELECT kind, coalesce(sum(amount_fen), 0) AS fen FROM welfare_disbursements WHERE community_id = $1"
            " AND period = $2 AND status = 'approved' GROUP BY kind",
            community_id,
            period,
        )
    }
    step("sources")
    fund = await _fund_by_kind(community_id, period)
    step("ledger")
    result.components = [
        Line("shares returned", int(expected["share"]), fund.get("share", 0)),
        Line("subsidies paid", -int(expected["subsidies"]), fund.get("subsidy", 0)),
        Line("deposits", deposits - reversed_deposits, fund.get("deposit", 0)),
        Line("relief disbursements", -outflows.get("relief", 0), fund.get("disbursement", 0)),
        Line("voted projects", -outflows.get("project", 0), fund.get("project", 0)),
    ]
    result.components.append(
        Line(
            "fund movement (net)",
            sum(line.expected_fen for line in result.components),
            sum(fund.values()),
        )
    )
    await _per_partner(result)
    step("partners")
    await _integrity(result)
    step("integrity")
    return result


async def _per_partner(result: Reconciliation) -> None:
    expected = await db.fetch(
        f"SELECT b.partner_id, coalesce(sum({SHARE_SQL}), 0) - coalesce(sum(b.subsidy_fen), 0) AS net"
        " FROM bookings b WHERE b.community_id = $1 AND b.completed_period = $2 AND b.status = 'completed'"
        " GROUP BY b.partner_id",
        result.community_id,
        result.period,
    )
    # The partner's account moves opposite to the fund: −share, +subsidy.
    posted = await db.fetch(
        "SELECT a.partner_id, -sum(e.amount_fen) AS net FROM welfare_entries e"
        " JOIN welfare_accounts a ON a.id = e.account_id AND a.kind = 'partner'"
        " JOIN welfare_transactions t ON t.id = e.transaction_id"
        " WHERE t.community_id = $1 AND t.period = $2 AND t.kind IN ('share', 'subsidy') GROUP BY a.partner_id",
        result.community_id,
        result.period,
    )
    want = {r["partner_id"]: int(r["net"]) for r in expected}
    have = {r["partner_id"]: int(r["net"]) for r in posted}
    names = {
        r["id"]: r["name"]
        for r in await db.fetch("SELECT id, name FROM partners WHERE id = ANY($1::uuid[])", list({*want, *have}))
    }
    for partner_id in sorted({*want, *have}, key=str):
        label = f"partner {names.get(partner_id, '?')[:10]} {str(partner_id)[:8]}"
        result.partners.append(Line(label, want.get(partner_id, 0), have.get(partner_id, 0)))


async def _integrity(result: Reconciliation) -> None:
    unbalanced = await db.fetch(
        "SELECT t.id, coalesce(sum(e.amount_fen), 0) AS total, count(e.id) AS n FROM welfare_transactions t"
        " LEFT JOIN welfare_entries e ON e.transaction_id = t.id WHERE t.community_id = $1 AND t.period = $2"
        " GROUP BY t.id HAVING coalesce(sum(e.amount_fen), 0) <> 0 OR count(e.id) < 2",
        result.community_id,
        result.period,
    )
    for r in unbalanced:
        result.problems.append(f"transaction {r['id']} is unbalanced ({r['n']} entries, sum {r['total']} fen)")
    orphans = await db.fetch(
        "SELECT t.id, t.kind, t.source_type, t.source_id FROM welfare_transactions t WHERE t.community_id = $1"
        " AND t.period = $2 AND NOT CASE t.source_type"
        "  WHEN 'deposit' THEN EXISTS (SELECT 1 FROM welfare_deposits d WHERE d.id = t.source_id"
        "   AND (d.transaction_id = t.id OR d.transaction_id = t.reverses_id))"
        "  WHEN 'disbursement' THEN EXISTS (SELECT 1 FROM welfare_disbursements d WHERE d.id = t.source_id"
        "   AND d.transaction_id = t.id)"
        "  WHEN 'settlement' THEN EXISTS (SELECT 1 FROM settlement_run_partners p WHERE p.id = t.source_id"
        "   AND t.id IN (p.share_transaction_id, p.subsidy_transaction_id))"
        "  WHEN 'vote' THEN EXISTS (SELECT 1 FROM welfare_disbursements d WHERE d.transaction_id = t.id"
        "   AND d.kind = 'project')"
        "  ELSE false END",
        result.community_id,
        result.period,
    )
    for r in orphans:
        result.problems.append(
            f"transaction {r['id']} ({r['kind']}) points to no existing {r['source_type']} {r['source_id']}"
        )


async def run_cli(*, community: str, period: str) -> int:
    """`linli reconcile`: print the reconciliation; 0 when exact, 1 with differences, 2 for bad input."""
    import sys

    from tqdm import tqdm

    from welfare import periods

    try:
        community_id = UUID(community)
        periods.check_format(period)
    except Exception as exc:
        print(f"invalid input: {exc}", file=sys.stderr)
        return 2
    await db.start_pool()
    try:
        if not await db.fetchval("SELECT 1 FROM communities WHERE id = $1", community_id):
            print(f"no such community: {community_id}", file=sys.stderr)
            return 2
        # A bar only on a terminal: piped or logged output stays the plain report.
        with tqdm(total=len(RECONCILE_STEPS), desc="reconcile", unit="step", disable=not sys.stderr.isatty()) as bar:

            def advance(name: str) -> None:
                bar.set_postfix_str(name)
                bar.update()

            result = await reconcile(community_id=community_id, period=period, on_step=advance)
    finally:
        await db.close_pool()
    print(result.render())
    return 0 if result.ok else 1
