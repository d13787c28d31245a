from piccolo.columns import UUID, Array, Date, ForeignKey, Integer, Time, Timestamptz, Varchar
from piccolo.columns.base import OnDelete
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.constraints import Check, Unique
from piccolo.table import Table

from partners.tables import Offering


class Schedule(Table, tablename="schedules"):
    """A weekly recurring pattern in the community's local time, materialised into slots ahead by a worker."""

    id = UUID(primary_key=True)
    offering_id = ForeignKey(Offering, null=False, on_delete=OnDelete.restrict, index=True)
    community_id = UUID(null=False)
    weekdays = Array(Integer(), null=False)  # 1 = Monday … 7 = Sunday
    start_time = Time(null=False)
    end_time = Time(null=False)
    capacity = Integer(null=False)
    valid_from = Date(null=False)
    valid_until = Date(null=True, default=None)
    materialised_until = Date(null=True, default=None)
    status = Varchar(length=20, null=False, default="active")  # active | ended
    created_at = Timestamptz(default=TimestamptzNow(), null=False)
    valid_capacity = Check("capacity > 0")


class Slot(Table, tablename="slots"):
    id = UUID(primary_key=True)
    offering_id = ForeignKey(Offering, null=False, on_delete=OnDelete.restrict, index=True)
    partner_id = UUID(null=False)
    community_id = UUID(null=False, index=True)
    schedule_id = UUID(null=True, default=None)
    starts_at = Timestamptz(null=False, index=True)
    ends_at = Timestamptz(null=False)
    capacity = Integer(null=False)
    # Places held by confirmed/accepted/completed bookings; only the booking service changes it.
    booked = Integer(null=False, default=0)
    status = Varchar(length=20, null=False, default="open")  # open | cancelled
    created_at = Timestamptz(default=TimestamptzNow(), null=False)
    # The last line of defence for the capacity invariant, whatever the code above does.
    within_capacity = Check("booked >= 0 AND booked <= capacity")
    valid_capacity = Check("capacity > 0")
    valid_window = Check("ends_at > starts_at")
    unique_offering_start = Unique([offering_id, starts_at])
