"""Indexes for waitlist holds (after the column exists: Piccolo runs raw steps before adding columns).

A resident offered a place is still "in line" for it, so the one-entry-per-resident rule covers `offered` too;
the expiry job scans only held bookings, by deadline.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-22T05:35:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "waitlist hold indexes"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="marketplace", description=DESCRIPTION)

    async def run():
        from linli import db

        # A resident offered a place is still "in line" for it: no second entry while one is waiting or offered.
        await db.execute("DROP INDEX IF EXISTS waitlist_one_waiting_per_resident")
        await db.execute(
            "CREATE UNIQUE INDEX IF NOT EXISTS waitlist_one_open_per_resident"
            " ON waitlist_entries (slot_id, resident_id) WHERE status IN ('waiting', 'offered')"
        )
        # The expiry job's scan: only the held bookings, by deadline.
        await db.execute(
            "CREATE INDEX IF NOT EXISTS bookings_held_due ON bookings (hold_expires_at) WHERE status = 'held'"
        )

    manager.add_raw(run)
    return manager
