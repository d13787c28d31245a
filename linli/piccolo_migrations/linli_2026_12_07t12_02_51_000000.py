"""Rows sent before delivery was tracked are taken as delivered (they were, or they are lost already); the partial
index `outbox_events_undelivered` holds just the sent rows still waiting for an actor, which the relay's
redelivery pass reads.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-12-07T12:02:51:000000"
VERSION = "1.38.0"
DESCRIPTION = "outbox undelivered index"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="linli", description=DESCRIPTION)

    async def run():
        from linli import db

        await db.execute("UPDATE outbox_events SET delivered_at = sent_at WHERE sent_at IS NOT NULL")
        await db.execute(
            "CREATE INDEX IF NOT EXISTS outbox_events_undelivered ON outbox_events (sent_at)"
            " WHERE sent_at IS NOT NULL AND delivered_at IS NULL"
        )

    async def run_backwards():
        from linli import db

        await db.execute("DROP INDEX IF EXISTS outbox_events_undelivered")

    manager.add_raw(run)
    manager.add_raw_backwards(run_backwards)
    return manager
