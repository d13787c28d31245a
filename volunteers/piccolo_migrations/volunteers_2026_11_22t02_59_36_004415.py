"""Guards the database keeps by itself: append-only ledgers, balanced time-bank transactions, once-only approval."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-22T02:59:36:004415"
VERSION = "1.38.0"
DESCRIPTION = "ledger_guards"

SQL = """
CREATE OR REPLACE FUNCTION volunteers_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused (corrections are new entries)', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$;

CREATE TRIGGER volunteer_hours_entries_append_only BEFORE UPDATE OR DELETE ON volunteer_hours_entries
    FOR EACH ROW EXECUTE FUNCTION volunteers_append_only();
CREATE TRIGGER timebank_entries_append_only BEFORE UPDATE OR DELETE ON timebank_entries
    FOR EACH ROW EXECUTE FUNCTION volunteers_append_only();
CREATE TRIGGER timebank_transactions_append_only BEFORE UPDATE OR DELETE ON timebank_transactions
    FOR EACH ROW EXECUTE FUNCTION volunteers_append_only();

-- Every time-bank transaction's entries sum to zero, checked when the transaction commits.
CREATE OR REPLACE FUNCTION timebank_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE total bigint;
BEGIN
    SELECT coalesce(sum(minutes), 0) INTO total FROM timebank_entries WHERE transaction_id = NEW.transaction_id;
    IF total <> 0 THEN
        RAISE EXCEPTION 'time-bank transaction % does not balance (% minutes)', NEW.transaction_id, total
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER timebank_entries_balanced AFTER INSERT ON timebank_entries
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION timebank_balanced();

-- An assignment's hours are approved once: the second approval entry cannot exist.
CREATE UNIQUE INDEX volunteer_hours_one_approval ON volunteer_hours_entries (assignment_id)
    WHERE kind = 'approval';
CREATE UNIQUE INDEX timebank_accounts_unique ON timebank_accounts (community_id, kind, owner_user_id)
    NULLS NOT DISTINCT;
CREATE INDEX volunteer_assignments_volunteer_status ON volunteer_assignments (volunteer_id, status);
CREATE INDEX volunteer_assignments_open_offers ON volunteer_assignments (expires_at) WHERE status = 'offered';
CREATE INDEX volunteer_tasks_open ON volunteer_tasks (community_id, starts_at) WHERE status = 'open';
CREATE SEQUENCE IF NOT EXISTS volunteer_service_certificate_serial;
"""


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="volunteers", description=DESCRIPTION)

    async def run():
        from linli import db

        # asyncpg runs a multi-statement script when no parameters are given.
        await db.execute(SQL)

    manager.add_raw(run)
    return manager
