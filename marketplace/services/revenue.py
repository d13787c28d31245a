"""What settlement reads from the marketplace: completed bookings and their recognised revenue.

Revenue is recognised when a booking completes: `completed_period` is the month of completion in community time,
`gross_fen` is the list price (the resident's payment plus the subsidy), `subsidy_fen` is what the welfare fund
owes the partner, and `agreement_id`/`share_rate_bp` were fixed from the agreement in force at completion.
Bookings are never rewritten after completion, so settlement may read them at any time.
"""

from __future__ import annotations

from uuid import UUID

from linli import db
from marketplace.schemas import CompletedBooking

_SQL = (
    "SELECT id AS booking_id, community_id, partner_id, category, price_fen AS gross_fen, subsidy_fen, payable_fen,"
    " completed_at, completed_period, agreement_id, share_rate_bp FROM bookings"
    " WHERE status = 'completed' AND community_id = $1 AND completed_period = $2"
    " AND ($3::uuid IS NULL OR partner_id = $3) ORDER BY partner_id, completed_at, id"
)


async def completed_in_period(
    *, community_id: UUID, period: str, partner_id: UUID | None = None
) -> list[CompletedBooking]:
    """Completed bookings of a community (optionally one partner) whose revenue falls in `period` ("YYYY-MM")."""
    rows = await db.fetch(_SQL, community_id, period, partner_id)
    return [CompletedBooking(**dict(r)) for r in rows]
