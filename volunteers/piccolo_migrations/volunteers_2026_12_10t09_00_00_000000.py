"""Every community starts with the common volunteer service categories as its skill catalogue.

Without one the first volunteer of a new community was refused `unknown_skill` until staff had typed skills in.
A trigger on `communities` (owned here: `community` knows nothing of volunteers) seeds the catalogue in the same
transaction as the INSERT, so a volunteer can register the moment the community exists; existing communities
are backfilled. A default is skipped where the community already has its code or a skill of the same name, and
staff rename or remove defaults like any skill they added (the catalogue is theirs once seeded). No default
demands a certificate: whether 急救 needs a 救护员证 is the community's call, set by editing the skill.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-12-10T09:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "default volunteer skill catalogue for every community"

SQL = """
CREATE OR REPLACE FUNCTION volunteer_default_skills(target uuid) RETURNS void LANGUAGE sql AS $$
    INSERT INTO volunteer_skills (id, community_id, code, name_zh, requires_certificate, created_at)
    SELECT gen_random_uuid(), target, d.code, d.name_zh, NULL, now()
    FROM (VALUES
        (1, 'elderly_care', '助老'),
        (2, 'disability_support', '助残'),
        (3, 'first_aid', '急救'),
        (4, 'counselling', '心理疏导'),
        (5, 'legal_advice', '法律咨询'),
        (6, 'appliance_repair', '家电维修'),
        (7, 'arts', '文艺'),
        (8, 'environment', '环保'),
        (9, 'security_patrol', '治安巡逻'),
        (10, 'tutoring', '助学'),
        (11, 'meal_delivery', '助餐配送'),
        (12, 'escort_clinic', '陪诊'),
        (13, 'haircut', '理发'),
        (14, 'smartphone_help', '智能手机帮教')
    ) AS d(position, code, name_zh)
    WHERE NOT EXISTS (
        SELECT 1 FROM volunteer_skills s WHERE s.community_id = target AND (s.code = d.code OR s.name_zh = d.name_zh))
    ORDER BY d.position
    ON CONFLICT (community_id, code) DO NOTHING
$$;

CREATE OR REPLACE FUNCTION volunteer_seed_community_skills() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM volunteer_default_skills(NEW.id);
    RETURN NULL;
END $$;

CREATE TRIGGER communities_default_volunteer_skills AFTER INSERT ON communities
    FOR EACH ROW EXECUTE FUNCTION volunteer_seed_community_skills();

SELECT volunteer_default_skills(id) FROM communities;
"""

# Seeded skills stay: by now they are the communities' own catalogue, possibly renamed and in use.
BACKWARDS_SQL = """
DROP TRIGGER IF EXISTS communities_default_volunteer_skills ON communities;
DROP FUNCTION IF EXISTS volunteer_seed_community_skills();
DROP FUNCTION IF EXISTS volunteer_default_skills(uuid);
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
