"""Every change to a user row is announced on `linli_users`, so API processes drop that caller from their cache.

Row-level for UPDATE and DELETE (the payload is the id), statement-level for TRUNCATE (`*`: forget everyone).
Inserts need no announcement: nobody can have cached a user that did not exist.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-22T07:15:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "announce user changes to the caller caches"

_STATEMENTS = (
    "CREATE OR REPLACE FUNCTION linli_user_changed() RETURNS trigger LANGUAGE plpgsql AS $$"
    " BEGIN PERFORM pg_notify('linli_users', OLD.id::text); RETURN NULL; END $$",
    "CREATE OR REPLACE FUNCTION linli_users_truncated() RETURNS trigger LANGUAGE plpgsql AS $$"
    " BEGIN PERFORM pg_notify('linli_users', '*'); RETURN NULL; END $$",
    "DROP TRIGGER IF EXISTS users_changed ON users",
    "CREATE TRIGGER users_changed AFTER UPDATE OR DELETE ON users FOR EACH ROW EXECUTE FUNCTION linli_user_changed()",
    "DROP TRIGGER IF EXISTS users_truncated ON users",
    "CREATE TRIGGER users_truncated AFTER TRUNCATE ON users FOR EACH STATEMENT"
    " EXECUTE FUNCTION linli_users_truncated()",
)


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="linli", description=DESCRIPTION)

    async def run():
        from linli import db

        for sql in _STATEMENTS:
            await db.execute(sql)

    async def run_backwards():
        from linli import db

        await db.execute("DROP TRIGGER IF EXISTS users_changed ON users")
        await db.execute("DROP TRIGGER IF EXISTS users_truncated ON users")

    manager.add_raw(run)
    manager.add_raw_backwards(run_backwards)
    return manager
