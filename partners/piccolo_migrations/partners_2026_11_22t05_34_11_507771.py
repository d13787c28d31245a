"""Waitlist holds: an offering may hold a freed place for the first in line (`waitlist_hold_minutes`); the
booking waits in `held` until confirmed or its `hold_expires_at` passes."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Integer
from piccolo.columns.indexes import IndexMethod

ID = "2026-11-22T05:34:11:507771"
VERSION = "1.38.0"
DESCRIPTION = "waitlist holds"


async def forwards():
    manager = MigrationManager(
        migration_id=ID, app_name="partners", description=DESCRIPTION
    )

    manager.add_column(
        table_class_name="Offering",
        tablename="offerings",
        column_name="waitlist_hold_minutes",
        db_column_name="waitlist_hold_minutes",
        column_class_name="Integer",
        column_class=Integer,
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

    return manager
