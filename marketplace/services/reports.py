"""Service-level reports: order SLA (1 minute to accept, 10 to arrive) and service quality (办结率, 满意率).

Periods are calendar months in the community's time zone ("YYYY-MM"); no period means all time. An order
belongs to the month it was dispatched, a complaint to the month it was filed, a review to the month it was
written. Shares and rates are integer basis points (10000 = 100 %).
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from community import access as community_access
from linli import db
from linli.auth.security import CurrentUser
from linli.settings import get_settings
from marketplace.schemas import (
    PartnerQuality,
    PartnerSla,
    QualityFigures,
    QualityReport,
    SlaFigures,
    SlaReport,
)
from partners import services as partners


def _bp(part: int, whole: int) -> int:
    # Integer basis points, rounded half up, without floats.
    return (part * 10000 * 2 + whole) // (whole * 2) if whole else 0


def _rate_bp(part: int, whole: int) -> int | None:
    return _bp(part, whole) if whole else None


_SLA_SQL = """
SELECT d.partner_id,
  count(*) AS orders,
  count(b.accepted_at) AS accepted,
  count(*) FILTER (WHERE b.accepted_at <= d.dispatched_at + make_interval(secs => d.accept_target_seconds))
    AS accepted_in_time,
  count(d.arrived_at) AS arrived,
  count(*) FILTER (WHERE d.arrived_at <= d.dispatched_at + make_interval(secs => d.arrive_target_seconds))
    AS arrived_in_time,
  percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM b.accepted_at - d.dispatched_at) / 60)
    FILTER (WHERE b.accepted_at IS NOT NULL) AS median_accept_minutes,
  percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM d.arrived_at - d.dispatched_at) / 60)
    FILTER (WHERE d.arrived_at IS NOT NULL) AS median_arrive_minutes
FROM order_dispatches d JOIN bookings b ON b.id = d.booking_id JOIN communities c ON c.id = d.community_id
WHERE {scope} AND ($2::text IS NULL OR to_char(d.dispatched_at AT TIME ZONE c.timezone, 'YYYY-MM') = $2)
GROUP BY GROUPING SETS ((d.partner_id), ())
ORDER BY d.partner_id NULLS FIRST
"""


def _sla_figures(row: Any) -> dict[str, Any]:
    def minutes(v: Any) -> float | None:
        return None if v is None else round(float(v), 2)

    return {
        "orders": row["orders"],
        "accepted": row["accepted"],
        "accepted_in_time": row["accepted_in_time"],
        "arrived": row["arrived"],
        "arrived_in_time": row["arrived_in_time"],
        "accepted_in_time_bp": _bp(row["accepted_in_time"], row["orders"]),
        "arrived_in_time_bp": _bp(row["arrived_in_time"], row["orders"]),
        "median_accept_minutes": minutes(row["median_accept_minutes"]),
        "median_arrive_minutes": minutes(row["median_arrive_minutes"]),
    }


_EMPTY_SLA = {
    "orders": 0,
    "accepted": 0,
    "accepted_in_time": 0,
    "arrived": 0,
    "arrived_in_time": 0,
    "accepted_in_time_bp": 0,
    "arrived_in_time_bp": 0,
    "median_accept_minutes": None,
    "median_arrive_minutes": None,
}


async def _sla(scope: str, scope_id: UUID, period: str | None) -> SlaReport:
    rows = await db.fetch(_SLA_SQL.format(scope=scope), scope_id, period)
    total = next((r for r in rows if r["partner_id"] is None), None)
    settings = get_settings()
    return SlaReport(
        period=period,
        accept_target_seconds=settings.order_accept_target_seconds,
        arrive_target_seconds=settings.order_arrive_target_seconds,
        total=SlaFigures(**(_sla_figures(total) if total else _EMPTY_SLA)),
        partners=[PartnerSla(partner_id=r["partner_id"], **_sla_figures(r)) for r in rows if r["partner_id"]],
    )


async def sla_for_partner(*, actor: CurrentUser, partner_id: UUID, period: str | None) -> SlaReport:
    """The partner's own SLA: its staff and its community's staff."""
    await partners.require_partner_role(actor, partner_id, "staff")
    return await _sla("d.partner_id = $1", partner_id, period)


async def sla_for_community(*, actor: CurrentUser, community_id: UUID, period: str | None) -> SlaReport:
    """Every partner's SLA in the community, and the community's total: community staff."""
    await community_access.require_role(actor, community_id, "staff")
    return await _sla("d.community_id = $1", community_id, period)


_QUALITY_SQL = """
WITH c AS (SELECT id, timezone FROM communities),
rev AS (
  SELECT r.partner_id, count(*) AS reviews, avg(r.rating) AS average_rating
  FROM booking_reviews r JOIN c ON c.id = r.community_id
  WHERE {scope_r} AND ($2::text IS NULL OR to_char(r.created_at AT TIME ZONE c.timezone, 'YYYY-MM') = $2)
  GROUP BY GROUPING SETS ((r.partner_id), ())
),
com AS (
  SELECT k.partner_id, count(*) AS complaints,
    count(*) FILTER (WHERE k.status IN ('handled', 'resolved')) AS handled,
    count(*) FILTER (WHERE k.status = 'resolved') AS resolved,
    count(*) FILTER (WHERE k.satisfaction = 'satisfied') AS satisfied
  FROM complaints k JOIN c ON c.id = k.community_id
  WHERE {scope_k} AND ($2::text IS NULL OR to_char(k.created_at AT TIME ZONE c.timezone, 'YYYY-MM') = $2)
  GROUP BY GROUPING SETS ((k.partner_id), ())
),
keys AS (
  SELECT partner_id, (partner_id IS NULL) AS is_total FROM rev
  UNION SELECT partner_id, (partner_id IS NULL) FROM com
  UNION SELECT NULL, true
)
SELECT keys.partner_id, coalesce(rev.reviews, 0) AS reviews, rev.average_rating,
  coalesce(com.complaints, 0) AS complaints, coalesce(com.handled, 0) AS handled,
  coalesce(com.resolved, 0) AS resolved, coalesce(com.satisfied, 0) AS satisfied
FROM keys
LEFT JOIN rev ON rev.partner_id IS NOT DISTINCT FROM keys.partner_id
LEFT JOIN com ON com.partner_id IS NOT DISTINCT FROM keys.partner_id
ORDER BY keys.partner_id NULLS FIRST
"""


def _quality_figures(row: Any) -> dict[str, Any]:
    avg = row["average_rating"]
    return {
        "reviews": row["reviews"],
        "average_rating": None if avg is None else round(float(avg), 2),
        "complaints": row["complaints"],
        "handled": row["handled"],
        "resolved": row["resolved"],
        "satisfied": row["satisfied"],
        "closure_rate_bp": _rate_bp(row["resolved"], row["complaints"]),
        "satisfaction_rate_bp": _rate_bp(row["satisfied"], row["resolved"]),
    }


async def _quality(column: str, scope_id: UUID, period: str | None) -> QualityReport:
    rows = await db.fetch(_QUALITY_SQL.format(scope_r=f"r.{column} = $1", scope_k=f"k.{column} = $1"), scope_id, period)
    total = next(r for r in rows if r["partner_id"] is None)
    return QualityReport(
        period=period,
        total=QualityFigures(**_quality_figures(total)),
        partners=[PartnerQuality(partner_id=r["partner_id"], **_quality_figures(r)) for r in rows if r["partner_id"]],
    )


async def quality_for_partner(*, actor: CurrentUser, partner_id: UUID, period: str | None) -> QualityReport:
    await partners.require_partner_role(actor, partner_id, "staff")
    return await _quality("partner_id", partner_id, period)


async def quality_for_community(*, actor: CurrentUser, community_id: UUID, period: str | None) -> QualityReport:
    await community_access.require_role(actor, community_id, "staff")
    return await _quality("community_id", community_id, period)
