from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-22T03:05:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "partial and composite indexes for waitlist, limits and escalation"

_STATEMENTS = (
    # One waiting entry per resident per slot (they may rejoin after cancelling).
    "CREATE UNIQUE INDEX IF NOT EXISTS waitlist_one_waiting_per_resident"
    " ON waitlist_entries (slot_id, resident_id) WHERE status = 'waiting'",
    "CREATE INDEX IF NOT EXISTS waitlist_fifo ON waitlist_entries (slot_id, created_at, id) WHERE status = 'waiting'",
    "CREATE INDEX IF NOT EXISTS bookings_resident_offering ON bookings (resident_id, offering_id)",
    "CREATE INDEX IF NOT EXISTS order_dispatches_unescalated ON order_dispatches (dispatched_at)"
    " WHERE escalated_at IS NULL",
    "CREATE INDEX IF NOT EXISTS complaints_created ON complaints (community_id, created_at)",
)


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="marketplace", description=DESCRIPTION)

    async def run():
        from linli import db

        for sql in _STATEMENTS:
            await db.execute(sql)

    manager.add_raw(run)
    return manager
