"""SMS yes/no prompts (marketplace.sms): one row per question texted to a resident about a booking.

A prompt is open while `closed_at` is NULL (answered, or closed by the periodic job once `expires_at` passed);
its 4-digit `reply_code` is unique among the open prompts of one phone, so "Y 1234" names exactly one of them.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-12-07T03:10:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "sms prompts"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="marketplace", description=DESCRIPTION)

    async def run():
        from linli import db

        await db.execute(
            "CREATE TABLE IF NOT EXISTS sms_prompts ("
            " id uuid PRIMARY KEY,"
            " community_id uuid NOT NULL,"
            " booking_id uuid NOT NULL REFERENCES bookings (id) ON DELETE RESTRICT,"
            " resident_id uuid NOT NULL,"
            " kind varchar(20) NOT NULL CHECK (kind IN ('proxy_booking', 'held_place')),"
            " phone varchar(20) NOT NULL,"
            " reply_code varchar(4) NOT NULL CHECK (reply_code ~ '^[0-9]{4}$'),"
            " expires_at timestamptz NOT NULL,"
            " created_at timestamptz NOT NULL DEFAULT now(),"
            " sent_at timestamptz,"
            " answer varchar(1) CHECK (answer IN ('Y', 'N')),"
            " answered_at timestamptz,"
            " reply_message_id varchar(200),"
            " outcome varchar(40),"
            " closed_at timestamptz,"
            " CHECK ((answer IS NULL) = (answered_at IS NULL)),"
            " CHECK (answered_at IS NULL OR closed_at IS NOT NULL))"
        )
        # The reply lookup (phone, code) and the code's uniqueness among a phone's open prompts.
        await db.execute(
            "CREATE UNIQUE INDEX IF NOT EXISTS sms_prompts_open_code ON sms_prompts (phone, reply_code)"
            " WHERE closed_at IS NULL"
        )
        # The closing job's scan: only open prompts, by deadline.
        await db.execute(
            "CREATE INDEX IF NOT EXISTS sms_prompts_open_due ON sms_prompts (expires_at) WHERE closed_at IS NULL"
        )
        await db.execute("CREATE INDEX IF NOT EXISTS sms_prompts_booking ON sms_prompts (booking_id)")

    async def run_backwards():
        from linli import db

        await db.execute("DROP TABLE IF EXISTS sms_prompts")

    manager.add_raw(run)
    manager.add_raw_backwards(run_backwards)
    return manager
