"""The outbox is read only through `outbox_events_pending`; the index on `created_at` was written on every event
and used by nothing."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Timestamptz

ID = "2026-11-22T06:17:47:279802"
VERSION = "1.38.0"
DESCRIPTION = "drop unused outbox created_at index"


async def forwards():
    manager = MigrationManager(
        migration_id=ID, app_name="linli", description=DESCRIPTION
    )

    manager.alter_column(
        table_class_name="OutboxEvent",
        tablename="outbox_events",
        column_name="created_at",
        db_column_name="created_at",
        params={"index": False},
        old_params={"index": True},
        column_class=Timestamptz,
        old_column_class=Timestamptz,
        schema=None,
    )

    return manager
