"""Reports on the fund: per partner and category, month over month, CSV, an SVG chart and public disclosure.

Revenue figures (gross, share, subsidies) come from `settlement_lines` — what was actually settled; fund
movements (deposits, disbursements, balance) come from ledger entries on the fund account.
"""

from __future__ import annotations

import csv
import io
from html import escape
from uuid import UUID

from community import access
from community import services as community
from linli import db
from linli.auth.security import CurrentUser
from welfare import periods
from welfare.schemas import DisclosureMonth, DisclosureOut, ReportRow, ReportTotals, WelfareReportOut
from welfare.services import ledger


def _row(key: str, name: str, r: object) -> ReportRow:
    share, subsidies = int(r["share"]), int(r["subsidies"])  # type: ignore[index]
    return ReportRow(
        key=key,
        name=name,
        bookings=int(r["n"]),  # type: ignore[index]
        gross_fen=int(r["gross"]),  # type: ignore[index]
        share_fen=share,
        subsidies_fen=subsidies,
        net_fen=share - subsidies,
    )


_SUMS = (
    "count(*) AS n, coalesce(sum(l.price_fen), 0) AS gross, coalesce(sum(l.share_fen), 0) AS share,"
    " coalesce(sum(l.subsidy_fen), 0) AS subsidies"
)


async def fund_movements(*, community_id: UUID, from_period: str, to_period: str) -> dict[str, dict[str, int]]:
    """period -> transaction kind -> signed fen on the fund account (reversals count with their kind)."""
    rows = await db.fetch(
        "SELECT t.period, t.kind, sum(e.amount_fen) AS fen FROM welfare_entries e"
        " JOIN welfare_accounts a ON a.id = e.account_id AND a.key = $2"
        " JOIN welfare_transactions t ON t.id = e.transaction_id"
        " WHERE e.community_id = $1 AND t.period BETWEEN $3 AND $4 GROUP BY t.period, t.kind",
        community_id,
        ledger.FUND,
        from_period,
        to_period,
    )
    out: dict[str, dict[str, int]] = {}
    for r in rows:
        out.setdefault(r["period"], {})[r["kind"]] = int(r["fen"])
    return out


async def _totals(community_id: UUID, period: str) -> ReportTotals:
    r = await db.fetchrow(
        f"SELECT {_SUMS} FROM settlement_lines l WHERE l.community_id = $1 AND l.period = $2", community_id, period
    )
    moves = (await fund_movements(community_id=community_id, from_period=period, to_period=period)).get(period, {})
    assert r is not None
    share, subsidies = int(r["share"]), int(r["subsidies"])
    return ReportTotals(
        bookings=int(r["n"]),
        gross_fen=int(r["gross"]),
        share_fen=share,
        subsidies_fen=subsidies,
        net_fen=share - subsidies,
        deposits_fen=moves.get("deposit", 0),
        disbursements_fen=-(moves.get("disbursement", 0) + moves.get("project", 0)),
    )


async def welfare_report(*, actor: CurrentUser, community_id: UUID, period: str) -> WelfareReportOut:
    """Per partner and per category for `period`, with totals and the change from the previous month."""
    await access.require_role(actor, community_id, "staff")
    periods.ensure_not_future(period, await community.timezone_of(community_id=community_id))
    partner_rows = await db.fetch(
        f"SELECT l.partner_id, coalesce(p.name, '') AS name, {_SUMS} FROM settlement_lines l"
        " LEFT JOIN partners p ON p.id = l.partner_id WHERE l.community_id = $1 AND l.period = $2"
        " GROUP BY l.partner_id, p.name ORDER BY share DESC, l.partner_id",
        community_id,
        period,
    )
    category_rows = await db.fetch(
        f"SELECT l.category, {_SUMS} FROM settlement_lines l WHERE l.community_id = $1 AND l.period = $2"
        " GROUP BY l.category ORDER BY l.category",
        community_id,
        period,
    )
    previous = periods.previous(period)
    totals = await _totals(community_id, period)
    before = await _totals(community_id, previous)
    change = ReportTotals(**{k: v - getattr(before, k) for k, v in totals.model_dump().items()})
    return WelfareReportOut(
        community_id=community_id,
        period=period,
        previous_period=previous,
        partners=[_row(str(r["partner_id"]), r["name"], r) for r in partner_rows],
        categories=[_row(r["category"], r["category"], r) for r in category_rows],
        totals=totals,
        previous_totals=before,
        change=change,
        balance_fen=await ledger.fund_balance(community_id=community_id),
    )


def report_csv(report: WelfareReportOut) -> str:
    buf = io.StringIO()
    buf.write("\ufeff")
    w = csv.writer(buf)
    header = ["section", "key", "name", "bookings", "gross_fen", "share_fen", "subsidies_fen", "net_fen"]
    w.writerow(header)
    for section, rows in (("partner", report.partners), ("category", report.categories)):
        for r in rows:
            w.writerow([section, r.key, r.name, r.bookings, r.gross_fen, r.share_fen, r.subsidies_fen, r.net_fen])
    for label, t in (
        (report.period, report.totals),
        (report.previous_period, report.previous_totals),
        ("change", report.change),
    ):
        w.writerow(["total", label, "", t.bookings, t.gross_fen, t.share_fen, t.subsidies_fen, t.net_fen])
    w.writerow([])
    w.writerow(["period", "deposits_fen", "disbursements_fen", "balance_fen"])
    w.writerow([report.period, report.totals.deposits_fen, report.totals.disbursements_fen, report.balance_fen])
    return buf.getvalue()


async def monthly(*, community_id: UUID, months: int) -> list[DisclosureMonth]:
    timezone = await community.timezone_of(community_id=community_id)
    span = periods.recent(periods.current_period(timezone), months)
    moves = await fund_movements(community_id=community_id, from_period=span[0], to_period=span[-1])
    out = []
    for p in span:
        m = moves.get(p, {})
        out.append(
            DisclosureMonth(
                period=p,
                returned_fen=m.get("share", 0),
                deposits_fen=m.get("deposit", 0),
                subsidies_fen=-m.get("subsidy", 0),
                relief_fen=-m.get("disbursement", 0),
                projects_fen=-m.get("project", 0),
            )
        )
    return out


async def chart_svg(*, actor: CurrentUser, community_id: UUID, months: int = 12) -> str:
    """Bars of money returned by partners (反哺) and spent (补贴 + 救助 + 微实事) per month, as SVG."""
    await access.require_role(actor, community_id, "staff")
    return render_chart(await monthly(community_id=community_id, months=months))


def _yuan(fen: int) -> str:
    return f"{fen // 100:,}.{fen % 100:02d}" if fen >= 0 else "-" + _yuan(-fen)


def render_chart(data: list[DisclosureMonth]) -> str:
    width, height, left, bottom, top = 80 + 56 * len(data), 320, 70, 50, 40
    plot_h = height - bottom - top
    spent = [m.subsidies_fen + m.relief_fen + m.projects_fen for m in data]
    peak = max([1, *(m.returned_fen for m in data), *spent])
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">',
        "<title>福利基金每月反哺与支出 (元)</title>",
        f'<text x="{left}" y="20" font-size="14">福利基金每月反哺与支出 (元) · returned and spent per month</text>',
        f'<line x1="{left}" y1="{height - bottom}" x2="{width - 10}" y2="{height - bottom}" stroke="#333"/>',
        f'<text x="{left - 6}" y="{top + 4}" text-anchor="end">{_yuan(peak)}</text>',
        f'<text x="{left - 6}" y="{height - bottom}" text-anchor="end">0</text>',
    ]
    for i, (m, out) in enumerate(zip(data, spent, strict=True)):
        x = left + 10 + i * 56
        for j, (value, colour, label) in enumerate(((m.returned_fen, "#2e7d32", "反哺"), (out, "#c62828", "支出"))):
            h = max(0, value) * plot_h // peak
            parts.append(
                f'<rect class="{"returned" if j == 0 else "spent"}" data-period="{m.period}" data-fen="{value}" '
                f'x="{x + j * 20}" y="{height - bottom - h}" width="18" height="{h}" fill="{colour}">'
                f"<title>{escape(m.period)} {label} {_yuan(value)} 元</title></rect>"
            )
        parts.append(f'<text x="{x + 19}" y="{height - bottom + 16}" text-anchor="middle">{escape(m.period)}</text>')
    legend_y = height - 12
    parts.append(f'<rect x="{left}" y="{legend_y - 9}" width="10" height="10" fill="#2e7d32"/>')
    parts.append(f'<text x="{left + 14}" y="{legend_y}">合伙人反哺 returned</text>')
    parts.append(f'<rect x="{left + 150}" y="{legend_y - 9}" width="10" height="10" fill="#c62828"/>')
    parts.append(f'<text x="{left + 164}" y="{legend_y}">补贴、救助与微实事 spent</text>')
    parts.append("</svg>")
    return "\n".join(parts)


async def disclosure(*, community_id: UUID, months: int = 12) -> DisclosureOut:
    """The public view of the fund (公示): totals and purposes only — no resident, no booking, no person."""
    info = await community.get(community_id=community_id)
    data = await monthly(community_id=community_id, months=months)
    sources = await db.fetch(
        "SELECT d.source, sum(d.amount_fen) AS fen FROM welfare_deposits d WHERE d.community_id = $1"
        " AND NOT EXISTS (SELECT 1 FROM welfare_transactions r WHERE r.reverses_id = d.transaction_id)"
        " GROUP BY d.source ORDER BY d.source",
        community_id,
    )
    relief = await db.fetchrow(
        "SELECT count(*) AS n, coalesce(sum(amount_fen), 0) AS fen FROM welfare_disbursements"
        " WHERE community_id = $1 AND kind = 'relief' AND status = 'approved'",
        community_id,
    )
    returning = await db.fetchval(
        "SELECT count(DISTINCT partner_id) FROM settlement_lines WHERE community_id = $1 AND share_fen > 0"
        " AND period >= $2",
        community_id,
        data[0].period,
    )
    projects = await db.fetch(
        "SELECT p.title, d.amount_fen FROM welfare_disbursements d JOIN budget_proposals p ON p.id = d.proposal_id"
        " WHERE d.community_id = $1 AND d.kind = 'project' AND d.status = 'approved' ORDER BY d.created_at",
        community_id,
    )
    assert relief is not None
    return DisclosureOut(
        community_id=community_id,
        community_name=info.name,
        balance_fen=await ledger.fund_balance(community_id=community_id),
        months=data,
        deposits_by_source={r["source"]: int(r["fen"]) for r in sources},
        relief_count=int(relief["n"]),
        relief_fen=int(relief["fen"]),
        partners_returning=int(returning),
        funded_projects=[{"title": r["title"], "amount_fen": int(r["amount_fen"])} for r in projects],
    )
