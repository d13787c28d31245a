from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import UUID

ID = "2026-11-22T03:30:08:615673"
VERSION = "1.38.0"
DESCRIPTION = "settlement lines without batch index"


async def forwards():
    manager = MigrationManager(
        migration_id=ID, app_name="welfare", description=DESCRIPTION
    )

    manager.alter_column(
        table_class_name="SettlementLine",
        tablename="settlement_lines",
        column_name="batch_id",
        db_column_name="batch_id",
        params={"index": False},
        old_params={"index": True},
        column_class=UUID,
        old_column_class=UUID,
        schema=None,
    )

    return manager
