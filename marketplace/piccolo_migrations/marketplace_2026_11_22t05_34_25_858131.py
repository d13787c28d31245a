"""Waitlist holds: an offering may hold a freed place for the first in line (`waitlist_hold_minutes`); the
booking waits in `held` until confirmed or its `hold_expires_at` passes."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Timestamptz
from piccolo.columns.indexes import IndexMethod
from piccolo.constraints import Check

ID = "2026-11-22T05:34:25:858131"
VERSION = "1.38.0"
DESCRIPTION = "waitlist holds"


async def forwards():
    manager = MigrationManager(
        migration_id=ID, app_name="marketplace", description=DESCRIPTION
    )

    manager.add_column(
        table_class_name="Booking",
        tablename="bookings",
        column_name="hold_expires_at",
        db_column_name="hold_expires_at",
        column_class_name="Timestamptz",
        column_class=Timestamptz,
        params={
            "default": None,
            "null": True,
            "primary_key": False,
            "unique": False,
            "index": False,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
        },
        schema=None,
    )

    manager.drop_constraint(
        table_class_name="Booking",
        tablename="bookings",
        constraint_name="valid_status",
        schema=None,
    )

    manager.drop_constraint(
        table_class_name="WaitlistEntry",
        tablename="waitlist_entries",
        constraint_name="valid_status",
        schema=None,
    )

    manager.add_constraint(
        table_class_name="Booking",
        tablename="bookings",
        constraint_name="valid_lifecycle",
        constraint_class=Check,
        params={
            "condition": "status IN ('held', 'confirmed', 'accepted', 'completed', 'cancelled', 'no_show')"
        },
        schema=None,
    )

    manager.add_constraint(
        table_class_name="WaitlistEntry",
        tablename="waitlist_entries",
        constraint_name="valid_entry_status",
        constraint_class=Check,
        params={
            "condition": "status IN ('waiting', 'offered', 'promoted', 'declined', 'expired', 'cancelled')"
        },
        schema=None,
    )

    return manager
