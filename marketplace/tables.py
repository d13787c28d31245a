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
    # Indexed by `bookings_resident_offering` (resident_id, offering_id), which serves lookups by resident too.
    resident_id = ForeignKey(User, null=False, on_delete=OnDelete.restrict, index=False)
    # Who pressed the button: the resident, or staff / a grid worker booking on their behalf (代办).
    booked_by = UUID(null=False)
    quantity = Integer(null=False)
    unit_price_fen = Integer(null=False)
    price_fen = Integer(null=False)
    subsidy_fen = Integer(null=False)
    payable_fen = Integer(null=False)
    priority_group = Varchar(length=30, null=True, default=None)  # the group whose price applied
    # Units priced at the subsidised price (the rest, beyond the daily limit, at list price).
    subsidised_quantity = Integer(null=False, default=0)
    # confirmed -> accepted -> completed; confirmed|accepted -> cancelled | no_show;
    # held (a waitlist place offered, not yet taken) -> confirmed | cancelled (declined or hold expired)
    status = Varchar(length=20, null=False, default="confirmed")
    # Only while held: when the offered place passes to the next in line.
    hold_expires_at = Timestamptz(null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow(), null=False)
    accepted_at = Timestamptz(null=True, default=None)
    completed_at = Timestamptz(null=True, default=None)
    # Month of completion in community time ("YYYY-MM"): the revenue period settlement uses.
    # Indexed only where set (`bookings_completed_period_set`): most bookings are written before completion.
    completed_period = Varchar(length=7, null=True, default=None, index=False)
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
    # (Renamed from `valid_status` when `held` was added: Piccolo adds the new check before dropping the old.)
    valid_lifecycle = Check("status IN ('held', 'confirmed', 'accepted', 'completed', 'cancelled', 'no_show')")
    valid_kind = Check("kind IN ('slot', 'order')")


class WaitlistEntry(Table, tablename="waitlist_entries"):
    """A resident queueing for a full slot; promoted FIFO (first entry that fits) when places free."""

    id = UUID(primary_key=True)
    slot_id = ForeignKey(Slot, null=False, on_delete=OnDelete.restrict, index=True)
    community_id = UUID(null=False)
    resident_id = ForeignKey(User, null=False, on_delete=OnDelete.restrict, index=True)
    booked_by = UUID(null=False)
    quantity = Integer(null=False)
    # waiting -> promoted (booked) | cancelled (left); with a hold: waiting -> offered -> promoted (confirmed)
    # | declined | expired | cancelled (the partner cancelled the held booking or the slot)
    status = Varchar(length=20, null=False, default="waiting")
    booking_id = UUID(null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow(), null=False)
    promoted_at = Timestamptz(null=True, default=None)
    cancelled_at = Timestamptz(null=True, default=None)
    valid_quantity = Check("quantity > 0")
    valid_entry_status = Check("status IN ('waiting', 'offered', 'promoted', 'declined', 'expired', 'cancelled')")


class OrderDispatch(Table, tablename="order_dispatches"):
    """The on-demand side of a booking of kind 'order': where to go, dispatch rounds and SLA timestamps."""

    id = UUID(primary_key=True)
    booking_id = ForeignKey(Booking, null=False, unique=True, on_delete=OnDelete.restrict)
    community_id = UUID(null=False, index=True)
    partner_id = UUID(null=False, index=True)
    address = Varchar(length=200, null=False)
    note = Text(null=False, default="")
    dispatched_at = Timestamptz(null=False)
    # Targets in force when the order was placed, so later setting changes never rewrite the SLA history.
    accept_target_seconds = Integer(null=False)
    arrive_target_seconds = Integer(null=False)
    dispatch_round = Integer(null=False, default=1)
    escalated_at = Timestamptz(null=True, default=None)
    arrived_at = Timestamptz(null=True, default=None)


class Review(Table, tablename="booking_reviews"):
    """One rating per completed booking, by its resident."""

    id = UUID(primary_key=True)
    booking_id = ForeignKey(Booking, null=False, unique=True, on_delete=OnDelete.restrict)
    community_id = UUID(null=False, index=True)
    partner_id = UUID(null=False, index=True)
    offering_id = UUID(null=False)
    resident_id = UUID(null=False)
    rating = Integer(null=False)
    comment = Text(null=False, default="")
    created_at = Timestamptz(default=TimestamptzNow(), null=False)
    valid_rating = Check("rating BETWEEN 1 AND 5")


class Complaint(Table, tablename="complaints"):
    """filed -> handled (partner or community staff) -> resolved (the resident, with satisfaction)."""

    id = UUID(primary_key=True)
    booking_id = ForeignKey(Booking, null=False, on_delete=OnDelete.restrict, index=True)
    community_id = UUID(null=False, index=True)
    partner_id = UUID(null=False, index=True)
    resident_id = UUID(null=False, index=True)
    content = Text(null=False)
    status = Varchar(length=20, null=False, default="filed")
    handled_by = UUID(null=True, default=None)
    handling_note = Text(null=True, default=None)
    handled_at = Timestamptz(null=True, default=None)
    satisfaction = Varchar(length=20, null=True, default=None)
    resolved_at = Timestamptz(null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow(), null=False)
    valid_status = Check("status IN ('filed', 'handled', 'resolved')")
    valid_satisfaction = Check("satisfaction IS NULL OR satisfaction IN ('satisfied', 'unsatisfied')")
