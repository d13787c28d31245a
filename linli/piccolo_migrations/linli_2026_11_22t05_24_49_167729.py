"""The outbox relay polls for unsent rows: one partial index over just those replaces the index on `sent_at`.

Sent rows (nearly all of them) leave the partial index, so each poll reads only what is pending.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Timestamptz

ID = "2026-11-22T05:24:49:167729"
VERSION = "1.38.0"
DESCRIPTION = "outbox pending partial index"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="linli", description=DESCRIPTION)

    manager.alter_column(
        table_class_name="OutboxEvent",
        tablename="outbox_events",
        column_name="sent_at",
        db_column_name="sent_at",
        params={"index": False},
        old_params={"index": True},
        column_class=Timestamptz,
        old_column_class=Timestamptz,
        schema=None,
    )

    async def run():
        from linli import db

        await db.execute(
            "CREATE INDEX IF NOT EXISTS outbox_events_pending ON outbox_events (created_at, id) WHERE sent_at IS NULL"
        )

    async def run_backwards():
        from linli import db

        await db.execute("DROP INDEX IF EXISTS outbox_events_pending")

    manager.add_raw(run)
    manager.add_raw_backwards(run_backwards)
    return manager
