"""Catalog search indexes: pg_trgm for substring queries of 3+ characters, a GIN array index for 1–2.

Both are partial on published offerings, which is all the public catalog ever searches. `fastupdate` is off:
offerings are written rarely and searched constantly, so entries go straight into the index instead of a
pending list every search would have to scan until the next vacuum.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-22T03:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "catalog search indexes (pg_trgm + grams)"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="partners", description=DESCRIPTION)

    async def run():
        from linli import db

        await db.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        await db.execute(
            "CREATE INDEX IF NOT EXISTS offerings_search_trgm ON offerings"
            " USING gin (search_text gin_trgm_ops) WITH (fastupdate = off) WHERE status = 'published'"
        )
        await db.execute(
            "CREATE INDEX IF NOT EXISTS offerings_search_grams ON offerings"
            " USING gin (search_grams) WITH (fastupdate = off) WHERE status = 'published'"
        )
        await db.execute(
            "CREATE INDEX IF NOT EXISTS offerings_catalog ON offerings (category, created_at DESC)"
            " WHERE status = 'published'"
        )

    async def run_backwards():
        from linli import db

        for name in ("offerings_search_trgm", "offerings_search_grams", "offerings_catalog"):
            await db.execute(f"DROP INDEX IF EXISTS {name}")

    manager.add_raw(run)
    manager.add_raw_backwards(run_backwards)
    return manager
