"""Fewer indexes to maintain on every booking INSERT (the hottest write).

`resident_id` alone is served by `bookings_resident_offering` (resident_id, offering_id); `completed_period` is
NULL until completion, so its index now holds only completed bookings (`col = $1` implies NOT NULL, so the
settlement and report queries still use it).
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import ForeignKey
from piccolo.columns.column_types import Varchar

ID = "2026-11-22T06:17:46:597764"
VERSION = "1.38.0"
DESCRIPTION = "fewer indexes on hot inserts"


async def forwards():
    manager = MigrationManager(
        migration_id=ID, app_name="marketplace", description=DESCRIPTION
    )

    manager.alter_column(
        table_class_name="Booking",
        tablename="bookings",
        column_name="resident_id",
        db_column_name="resident_id",
        params={"index": False},
        old_params={"index": True},
        column_class=ForeignKey,
        old_column_class=ForeignKey,
        schema=None,
    )

    manager.alter_column(
        table_class_name="Booking",
        tablename="bookings",
        column_name="completed_period",
        db_column_name="completed_period",
        params={"index": False},
        old_params={"index": True},
        column_class=Varchar,
        old_column_class=Varchar,
        schema=None,
    )

    async def run():
        from linli import db

        await db.execute(
            "CREATE INDEX IF NOT EXISTS bookings_completed_period_set ON bookings (completed_period)"
            " WHERE completed_period IS NOT NULL"
        )

    async def run_backwards():
        from linli import db

        await db.execute("DROP INDEX IF EXISTS bookings_completed_period_set")

    manager.add_raw(run)
    manager.add_raw_backwards(run_backwards)
    return manager
