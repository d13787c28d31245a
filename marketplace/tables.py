from piccolo.columns import UUID, ForeignKey, Integer, Text, Timestamptz, Varchar
from piccolo.columns.base import OnDelete
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.constraints import Check
from piccolo.table import Table

from linli.tables import User
from partners.tables import Offering, Partner
from scheduling.tables import Slot


class Booking(Table, tablename="bookings"):
    """A resident's booking (or on-demand order) with its price snapshot, never rewritten after booking.

    Money is the whole booking (unit price × quantity): `price_fen` is the list price (gross revenue),
    `subsidy_fen` what the welfare fund pays the partner, `payable_fen` what the resident pays.
    """

    id = UUID(primary_key=True)
    community_id = UUID(null=False, index=True)
    partner_id = ForeignKey(Partner, null=False, on_delete=OnDelete.restrict, index=True)
    offering_id = ForeignKey(Offering, null=False, on_delete=OnDelete.restrict)
    slot_id = ForeignKey(Slot, null=True, default=None, on_delete=OnDelete.restrict, index=True)
    kind = Varchar(length=10, null=False, default="slot")  # slot | order (on-demand)
    category = Varchar(length=30, null=False)
    resident_id = ForeignKey(User, null=False, on_delete=OnDelete.restrict, index=True)
    # Who pressed the button: the resident, or staff / a grid worker booking on their behalf (代办).
    booked_by = UUID(null=False)
    quantity = Integer(null=False)
    unit_price_fen = Integer(null=False)
    price_fen = Integer(null=False)
    subsidy_fen = Integer(null=False)
    payable_fen = Integer(null=False)
    priority_group = Varchar(length=30, null=True, default=None)  # the group whose price applied
    # confirmed -> accepted -> completed; confirmed|accepted -> cancelled | no_show
    status = Varchar(length=20, null=False, default="confirmed")
    created_at = Timestamptz(default=TimestamptzNow(), null=False)
    accepted_at = Timestamptz(null=True, default=None)
    completed_at = Timestamptz(null=True, default=None)
    # Month of completion in community time ("YYYY-MM"): the revenue period settlement uses.
    completed_period = Varchar(length=7, null=True, default=None, index=True)
    # The revenue-share agreement in force at completion and its rate, fixed when the booking completes.
    agreement_id = UUID(null=True, default=None)
    share_rate_bp = Integer(null=True, default=None)
    cancelled_at = Timestamptz(null=True, default=None)
    cancelled_by = UUID(null=True, default=None)
    cancel_reason = Text(null=True, default=None)
    valid_quantity = Check("quantity > 0")
    valid_money = Check(
        "unit_price_fen >= 0 AND price_fen >= 0 AND subsidy_fen >= 0 AND subsidy_fen <= price_fen"
        " AND payable_fen = price_fen - subsidy_fen"
    )
    valid_status = Check("status IN ('confirmed', 'accepted', 'completed', 'cancelled', 'no_show')")
    valid_kind = Check("kind IN ('slot', 'order')")
