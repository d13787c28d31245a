"""Real-name profiles and verifiable service certificates (志愿服务证明).

Profiles gain the real name and the identity number as a masked form plus a keyed HMAC (never the number),
the HMAC unique per community. A community's volunteer settings gain the issuing organisation and its
contact. Certificates gain their stated period, every approved record (a snapshot), the holder's real name
and masked number as of issue, the issuer, a check code for public verification, and revocation. An issued
certificate is never edited: a trigger allows one UPDATE only, the revocation, and no DELETE.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-12-08T09:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "verifiable service certificates"

SQL = """
ALTER TABLE volunteer_profiles
    ADD COLUMN IF NOT EXISTS real_name varchar(50),
    ADD COLUMN IF NOT EXISTS id_number_masked varchar(18),
    ADD COLUMN IF NOT EXISTS id_number_hmac varchar(64),
    ADD COLUMN IF NOT EXISTS real_name_set_at timestamptz;
ALTER TABLE volunteer_profiles ADD CONSTRAINT volunteer_profiles_real_name_whole CHECK (
    (real_name IS NULL) = (id_number_masked IS NULL) AND (real_name IS NULL) = (id_number_hmac IS NULL));
CREATE UNIQUE INDEX IF NOT EXISTS volunteer_profiles_id_number ON volunteer_profiles (community_id, id_number_hmac)
    WHERE id_number_hmac IS NOT NULL;

ALTER TABLE volunteer_settings
    ADD COLUMN IF NOT EXISTS certificate_organisation varchar(100),
    ADD COLUMN IF NOT EXISTS certificate_contact varchar(100);

ALTER TABLE volunteer_service_certificates
    ADD COLUMN IF NOT EXISTS check_code varchar(12),
    ADD COLUMN IF NOT EXISTS period_from date,
    ADD COLUMN IF NOT EXISTS period_to date,
    ADD COLUMN IF NOT EXISTS records jsonb NOT NULL DEFAULT '[]',
    ADD COLUMN IF NOT EXISTS lifetime_minutes integer,
    ADD COLUMN IF NOT EXISTS holder_name varchar(50),
    ADD COLUMN IF NOT EXISTS holder_id_masked varchar(18),
    ADD COLUMN IF NOT EXISTS issuer_organisation varchar(100),
    ADD COLUMN IF NOT EXISTS issuer_contact varchar(100),
    ADD COLUMN IF NOT EXISTS issued_by_name varchar(100),
    ADD COLUMN IF NOT EXISTS revoked_at timestamptz,
    ADD COLUMN IF NOT EXISTS revoked_by uuid,
    ADD COLUMN IF NOT EXISTS revoke_reason varchar(200);
ALTER TABLE volunteer_service_certificates ADD CONSTRAINT volunteer_service_certificates_revocation_whole CHECK (
    (revoked_at IS NULL) = (revoke_reason IS NULL) AND (revoked_at IS NULL) = (revoked_by IS NULL));

-- Issued is final: the only change is the one revocation (its three columns, from unset to set).
CREATE OR REPLACE FUNCTION volunteer_certificates_final() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND OLD.revoked_at IS NULL AND NEW.revoked_at IS NOT NULL
       AND (to_jsonb(NEW) - 'revoked_at' - 'revoked_by' - 'revoke_reason')
           = (to_jsonb(OLD) - 'revoked_at' - 'revoked_by' - 'revoke_reason') THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'an issued certificate is never edited or deleted (%), it is revoked once', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER volunteer_service_certificates_final BEFORE UPDATE OR DELETE ON volunteer_service_certificates
    FOR EACH ROW EXECUTE FUNCTION volunteer_certificates_final();
"""

BACKWARDS_SQL = """
DROP TRIGGER IF EXISTS volunteer_service_certificates_final ON volunteer_service_certificates;
DROP FUNCTION IF EXISTS volunteer_certificates_final();
ALTER TABLE volunteer_service_certificates
    DROP CONSTRAINT IF EXISTS volunteer_service_certificates_revocation_whole,
    DROP COLUMN IF EXISTS check_code, DROP COLUMN IF EXISTS period_from, DROP COLUMN IF EXISTS period_to,
    DROP COLUMN IF EXISTS records, DROP COLUMN IF EXISTS lifetime_minutes, DROP COLUMN IF EXISTS holder_name,
    DROP COLUMN IF EXISTS holder_id_masked, DROP COLUMN IF EXISTS issuer_organisation,
    DROP COLUMN IF EXISTS issuer_contact, DROP COLUMN IF EXISTS issued_by_name, DROP COLUMN IF EXISTS revoked_at,
    DROP COLUMN IF EXISTS revoked_by, DROP COLUMN IF EXISTS revoke_reason;
ALTER TABLE volunteer_settings
    DROP COLUMN IF EXISTS certificate_organisation, DROP COLUMN IF EXISTS certificate_contact;
DROP INDEX IF EXISTS volunteer_profiles_id_number;
ALTER TABLE volunteer_profiles
    DROP CONSTRAINT IF EXISTS volunteer_profiles_real_name_whole,
    DROP COLUMN IF EXISTS real_name, DROP COLUMN IF EXISTS id_number_masked, DROP COLUMN IF EXISTS id_number_hmac,
    DROP COLUMN IF EXISTS real_name_set_at;
"""


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="volunteers", description=DESCRIPTION)

    async def run():
        from linli import db

        # asyncpg runs a multi-statement script when no parameters are given.
        await db.execute(SQL)

    async def run_backwards():
        from linli import db

        await db.execute(BACKWARDS_SQL)

    manager.add_raw(run)
    manager.add_raw_backwards(run_backwards)
    return manager
