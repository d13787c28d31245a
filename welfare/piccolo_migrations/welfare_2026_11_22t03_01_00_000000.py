"""The ledger's guarantees, held by PostgreSQL whatever the code above does.

- Transactions, entries, deposits and settlement lines are append-only (UPDATE/DELETE raise).
- At commit, every transaction's entries sum to zero and there are at least two (deferred constraint trigger).
- An entry belongs to the community of its account and of its transaction (composite foreign keys).
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-22T03:01:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "ledger triggers"

SQL = """
CREATE OR REPLACE FUNCTION welfare_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'welfare ledger is append-only: % on % refused; post a reversal instead', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'integrity_constraint_violation';
END
$$;

CREATE TRIGGER welfare_transactions_append_only BEFORE UPDATE OR DELETE ON welfare_transactions
    FOR EACH ROW EXECUTE FUNCTION welfare_refuse_change();
CREATE TRIGGER welfare_entries_append_only BEFORE UPDATE OR DELETE ON welfare_entries
    FOR EACH ROW EXECUTE FUNCTION welfare_refuse_change();
CREATE TRIGGER welfare_deposits_append_only BEFORE UPDATE OR DELETE ON welfare_deposits
    FOR EACH ROW EXECUTE FUNCTION welfare_refuse_change();
CREATE TRIGGER settlement_lines_append_only BEFORE UPDATE OR DELETE ON settlement_lines
    FOR EACH ROW EXECUTE FUNCTION welfare_refuse_change();

CREATE OR REPLACE FUNCTION welfare_check_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    tx uuid;
    total numeric;
    n integer;
BEGIN
    IF TG_TABLE_NAME = 'welfare_entries' THEN
        tx := NEW.transaction_id;
    ELSE
        tx := NEW.id;
    END IF;
    SELECT coalesce(sum(amount_fen), 0), count(*) INTO total, n FROM welfare_entries WHERE transaction_id = tx;
    IF total <> 0 OR n < 2 THEN
        RAISE EXCEPTION 'welfare transaction % is unbalanced: % entries sum to % fen', tx, n, total
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END
$$;

CREATE CONSTRAINT TRIGGER welfare_entries_balanced AFTER INSERT ON welfare_entries
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION welfare_check_balanced();
CREATE CONSTRAINT TRIGGER welfare_transactions_balanced AFTER INSERT ON welfare_transactions
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION welfare_check_balanced();

ALTER TABLE welfare_accounts ADD CONSTRAINT welfare_accounts_id_community UNIQUE (id, community_id);
ALTER TABLE welfare_transactions ADD CONSTRAINT welfare_transactions_id_community UNIQUE (id, community_id);
ALTER TABLE welfare_entries ADD CONSTRAINT welfare_entries_account_community
    FOREIGN KEY (account_id, community_id) REFERENCES welfare_accounts (id, community_id);
ALTER TABLE welfare_entries ADD CONSTRAINT welfare_entries_transaction_community
    FOREIGN KEY (transaction_id, community_id) REFERENCES welfare_transactions (id, community_id);

CREATE INDEX settlement_lines_community_period ON settlement_lines (community_id, period);
CREATE INDEX settlement_lines_partner_period ON settlement_lines (partner_id, period);
CREATE INDEX settlement_runs_community_period ON settlement_runs (community_id, period);
CREATE INDEX welfare_transactions_community_period ON welfare_transactions (community_id, period);
"""


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="welfare", description=DESCRIPTION)

    async def run():
        from linli import db

        await db.execute(SQL)

    manager.add_raw(run)
    return manager
