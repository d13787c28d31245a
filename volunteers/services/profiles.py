"""The skill catalog, per-community settings and volunteers' profiles. Callers own the unit of work."""

from __future__ import annotations

import re
from uuid import UUID

import asyncpg

from community import access
from linli import audit, db
from linli.auth.security import CurrentUser
from linli.errors import BadInput, Conflict, NotFound, register_code
from volunteers import identity
from volunteers.schemas import (
    CODE_PATTERN,
    AvailabilityWindow,
    CertificateIn,
    ProfileFields,
    RealNameIn,
    SkillIn,
    SkillLevel,
    SkillOut,
    SkillPatch,
    VolunteerIn,
    VolunteerOut,
    VolunteerSettingsIn,
    VolunteerSettingsOut,
    hhmm_to_minutes,
    minutes_to_hhmm,
)
from volunteers.services.common import (
    GRID_NOT_FOUND,
    SKILL_EXISTS,
    UNKNOWN_SKILL,
    VOLUNTEER_EXISTS,
    load_volunteer,
    require_member,
    require_self_or_staff,
)

ID_NUMBER_INVALID = register_code(
    "id_number_invalid", 422, "身份证号码有误,请核对后重新填写", "Not a valid 18-digit resident identity number"
)
ID_NUMBER_REGISTERED = register_code(
    "id_number_registered",
    409,
    "该身份证号已登记在本社区另一名志愿者名下",
    "This identity number belongs to another volunteer of this community",
)

SKILL_NOT_FOUND = register_code(
    "skill_not_found", 404, "本社区技能目录中没有这项技能", "No such skill in this catalogue"
)
SKILL_IN_USE = register_code(
    "skill_in_use",
    409,
    "仍有志愿者或未结束的任务使用这项技能,不能删除(可以改名)",
    "Volunteers or open tasks still use this skill; it cannot be removed (it can be renamed)",
)

DEFAULT_STAR_THRESHOLDS_HOURS = [100, 300, 600, 1000, 1500]
DEFAULT_TIMEBANK_CAP_MINUTES = 1500 * 60


# --- catalog ------------------------------------------------------------------------------------------------


async def create_skill(*, actor: CurrentUser, community_id: UUID, skill_in: SkillIn) -> SkillOut:
    """Community staff add a skill to the catalog volunteers choose from."""
    await access.require_role(actor, community_id, "staff")
    row = await db.fetchrow(
        "INSERT INTO volunteer_skills (id, community_id, code, name_zh, requires_certificate, created_at)"
        " VALUES (gen_random_uuid(), $1, $2, $3, $4, now()) ON CONFLICT (community_id, code) DO NOTHING"
        " RETURNING code, name_zh, requires_certificate",
        community_id,
        skill_in.code,
        skill_in.name_zh,
        skill_in.requires_certificate,
    )
    if row is None:
        raise Conflict("skill code exists", code=SKILL_EXISTS)
    return SkillOut(**dict(row))


def _require_code_shape(code: str) -> None:
    """A code from a URL path that no skill could have is simply not in the catalogue."""
    if not re.fullmatch(CODE_PATTERN, code):
        raise NotFound("no such skill", code=SKILL_NOT_FOUND)


async def update_skill(*, actor: CurrentUser, community_id: UUID, code: str, patch: SkillPatch) -> SkillOut:
    """Community staff rename a skill or change the certificate it demands (a default one as well); audited."""
    await access.require_role(actor, community_id, "staff")
    _require_code_shape(code)
    changes = patch.model_dump(exclude_unset=True)
    row = await db.fetchrow(
        "UPDATE volunteer_skills SET name_zh = coalesce($3, name_zh),"
        " requires_certificate = CASE WHEN $4 THEN $5 ELSE requires_certificate END"
        " WHERE community_id = $1 AND code = $2 RETURNING id, code, name_zh, requires_certificate",
        community_id,
        code,
        changes.get("name_zh"),
        "requires_certificate" in changes,
        changes.get("requires_certificate"),
    )
    if row is None:
        raise NotFound("no such skill", code=SKILL_NOT_FOUND)
    if changes:
        await audit.record(
            actor_user_id=actor.id,
            action="volunteer_skill.updated",
            object_type="volunteer_skill",
            object_id=row["id"],
            community_id=community_id,
            detail={"code": code, "changes": changes},
        )
    return SkillOut(code=row["code"], name_zh=row["name_zh"], requires_certificate=row["requires_certificate"])


async def remove_skill(*, actor: CurrentUser, community_id: UUID, code: str) -> None:
    """Community staff remove a skill nobody uses: no volunteer lists it and no open task requires it (409
    `skill_in_use` otherwise, so no profile or task is left pointing at a code the catalogue lacks)."""
    await access.require_role(actor, community_id, "staff")
    _require_code_shape(code)
    # Locking the catalogue row orders us with a volunteer registering the skill at the same moment.
    skill_id = await db.fetchval(
        "SELECT id FROM volunteer_skills WHERE community_id = $1 AND code = $2 FOR UPDATE", community_id, code
    )
    if skill_id is None:
        raise NotFound("no such skill", code=SKILL_NOT_FOUND)
    use = await db.fetchrow(
        "SELECT (SELECT count(*) FROM volunteer_profile_skills WHERE community_id = $1 AND skill_code = $2)"
        " AS volunteers, (SELECT count(*) FROM volunteer_tasks WHERE community_id = $1 AND status IN ('open', 'full')"
        " AND required_skills @> jsonb_build_array(jsonb_build_object('code', $2::text))) AS tasks",
        community_id,
        code,
    )
    assert use is not None
    if use["volunteers"] or use["tasks"]:
        raise Conflict(
            "the skill is in use", code=SKILL_IN_USE, volunteers=int(use["volunteers"]), tasks=int(use["tasks"])
        )
    await db.execute("DELETE FROM volunteer_skills WHERE id = $1", skill_id)
    await audit.record(
        actor_user_id=actor.id,
        action="volunteer_skill.removed",
        object_type="volunteer_skill",
        object_id=skill_id,
        community_id=community_id,
        detail={"code": code},
    )


async def get_skills(*, actor: CurrentUser, community_id: UUID) -> list[SkillOut]:
    await require_member(actor, community_id)
    rows = await db.fetch(
        "SELECT code, name_zh, requires_certificate FROM volunteer_skills WHERE community_id = $1 ORDER BY code",
        community_id,
    )
    return [SkillOut(**dict(r)) for r in rows]


async def check_skills(community_id: UUID, codes: list[str]) -> None:
    """Every code must be in the community's catalog (422 `unknown_skill` otherwise).

    The codes found stay key-share locked until the unit of work ends, so staff cannot remove a skill between
    this check and the profile or task that uses it (`remove_skill` locks the row for update first)."""
    if not codes:
        return
    found = await db.fetch(
        "SELECT code FROM volunteer_skills WHERE community_id = $1 AND code = ANY($2::text[]) FOR KEY SHARE",
        community_id,
        sorted(set(codes)),
    )
    unknown = sorted(set(codes) - {r["code"] for r in found})
    if unknown:
        raise BadInput(f"unknown skill: {', '.join(unknown)}", code=UNKNOWN_SKILL, unknown=unknown)


# --- settings -----------------------------------------------------------------------------------------------


async def settings_of(community_id: UUID) -> VolunteerSettingsOut:
    row = await db.fetchrow(
        "SELECT star_thresholds_hours, timebank_cap_minutes FROM volunteer_settings WHERE community_id = $1",
        community_id,
    )
    if row is None or not row["star_thresholds_hours"]:
        return VolunteerSettingsOut(
            community_id=community_id,
            star_thresholds_hours=DEFAULT_STAR_THRESHOLDS_HOURS,
            timebank_cap_minutes=row["timebank_cap_minutes"] if row else DEFAULT_TIMEBANK_CAP_MINUTES,
        )
    return VolunteerSettingsOut(community_id=community_id, **dict(row))


async def set_settings(
    *, actor: CurrentUser, community_id: UUID, settings_in: VolunteerSettingsIn
) -> VolunteerSettingsOut:
    await access.require_role(actor, community_id, "admin")
    await db.execute(
        "INSERT INTO volunteer_settings (id, community_id, star_thresholds_hours, timebank_cap_minutes, updated_at)"
        " VALUES (gen_random_uuid(), $1, $2, $3, now()) ON CONFLICT (community_id) DO UPDATE"
        " SET star_thresholds_hours = EXCLUDED.star_thresholds_hours,"
        " timebank_cap_minutes = EXCLUDED.timebank_cap_minutes, updated_at = now()",
        community_id,
        settings_in.star_thresholds_hours,
        settings_in.timebank_cap_hours * 60,
    )
    await audit.record(
        actor_user_id=actor.id,
        action="volunteers.settings_set",
        object_type="community",
        object_id=community_id,
        community_id=community_id,
        detail=settings_in.model_dump(),
    )
    return await settings_of(community_id)


def star_level(approved_minutes: int, thresholds_hours: list[int]) -> int:
    return sum(1 for h in thresholds_hours if approved_minutes >= h * 60)


# --- profiles -----------------------------------------------------------------------------------------------


async def _validate(community_id: UUID, fields: ProfileFields) -> None:
    await check_skills(community_id, [s.code for s in fields.skills])
    if fields.home_grid_id is not None and not await db.fetchval(
        "SELECT 1 FROM community_grids WHERE id = $1 AND community_id = $2", fields.home_grid_id, community_id
    ):
        raise NotFound("no such grid in this community", code=GRID_NOT_FOUND)


async def _write_details(volunteer_id: UUID, community_id: UUID, fields: ProfileFields) -> None:
    for table in ("volunteer_profile_skills", "volunteer_availability", "volunteer_days_off", "volunteer_certificates"):
        await db.execute(f"DELETE FROM {table} WHERE volunteer_id = $1", volunteer_id)
    if fields.skills:
        await db.execute(
            "INSERT INTO volunteer_profile_skills (id, volunteer_id, community_id, skill_code, level)"
            " SELECT gen_random_uuid(), $1, $2, s.code, s.level FROM unnest($3::text[], $4::int[]) AS s(code, level)",
            volunteer_id,
            community_id,
            [s.code for s in fields.skills],
            [s.level for s in fields.skills],
        )
    if fields.availability:
        await db.execute(
            "INSERT INTO volunteer_availability (id, volunteer_id, community_id, weekday, start_minute, end_minute)"
            " SELECT gen_random_uuid(), $1, $2, w.d, w.s, w.e"
            " FROM unnest($3::int[], $4::int[], $5::int[]) AS w(d, s, e)",
            volunteer_id,
            community_id,
            [w.weekday for w in fields.availability],
            [hhmm_to_minutes(w.start) for w in fields.availability],
            [hhmm_to_minutes(w.end) for w in fields.availability],
        )
    if fields.days_off:
        await db.execute(
            "INSERT INTO volunteer_days_off (id, volunteer_id, community_id, day)"
            " SELECT DISTINCT ON (d) gen_random_uuid(), $1, $2, d FROM unnest($3::date[]) AS d",
            volunteer_id,
            community_id,
            sorted(set(fields.days_off)),
        )
    if fields.certificates:
        latest: dict[str, CertificateIn] = {}
        for c in fields.certificates:
            if c.kind not in latest or c.expires_on > latest[c.kind].expires_on:
                latest[c.kind] = c
        await db.execute(
            "INSERT INTO volunteer_certificates (id, volunteer_id, community_id, kind, expires_on)"
            " SELECT gen_random_uuid(), $1, $2, c.k, c.e FROM unnest($3::text[], $4::date[]) AS c(k, e)",
            volunteer_id,
            community_id,
            list(latest),
            [c.expires_on for c in latest.values()],
        )


async def create(*, actor: CurrentUser, volunteer_in: VolunteerIn) -> VolunteerOut:
    """Register the caller as a volunteer of a community (any signed-in user; one profile per community)."""
    await access.require_community(volunteer_in.community_id)
    await _validate(volunteer_in.community_id, volunteer_in)
    volunteer_id = await db.fetchval(
        "INSERT INTO volunteer_profiles (id, community_id, user_id, home_grid_id, weekly_cap_minutes, languages,"
        " tags, created_at, updated_at) VALUES (gen_random_uuid(), $1, $2, $3, $4, $5, $6, now(), now())"
        " ON CONFLICT (community_id, user_id) DO NOTHING RETURNING id",
        volunteer_in.community_id,
        actor.id,
        volunteer_in.home_grid_id,
        volunteer_in.weekly_cap_minutes,
        volunteer_in.languages,
        volunteer_in.tags,
    )
    if volunteer_id is None:
        raise Conflict("already a volunteer here", code=VOLUNTEER_EXISTS)
    await _write_details(volunteer_id, volunteer_in.community_id, volunteer_in)
    await audit.record(
        actor_user_id=actor.id,
        action="volunteer.registered",
        object_type="volunteer",
        object_id=volunteer_id,
        community_id=volunteer_in.community_id,
    )
    return await get(actor=actor, volunteer_id=volunteer_id)


async def update(*, actor: CurrentUser, volunteer_id: UUID, volunteer_in: ProfileFields) -> VolunteerOut:
    """The volunteer replaces their skills, availability, days off, certificates and preferences."""
    volunteer = await load_volunteer(volunteer_id, for_update=True)
    if volunteer["user_id"] != actor.id:
        await require_self_or_staff(actor, volunteer)
        await access.require_role(actor, volunteer["community_id"], "staff")
    await _validate(volunteer["community_id"], volunteer_in)
    await db.execute(
        "UPDATE volunteer_profiles SET home_grid_id = $2, weekly_cap_minutes = $3, languages = $4, tags = $5,"
        " updated_at = now() WHERE id = $1",
        volunteer_id,
        volunteer_in.home_grid_id,
        volunteer_in.weekly_cap_minutes,
        volunteer_in.languages,
        volunteer_in.tags,
    )
    await _write_details(volunteer_id, volunteer["community_id"], volunteer_in)
    return await get(actor=actor, volunteer_id=volunteer_id)


async def get(*, actor: CurrentUser, volunteer_id: UUID) -> VolunteerOut:
    volunteer = await load_volunteer(volunteer_id)
    await require_self_or_staff(actor, volunteer)
    skills = await db.fetch(
        "SELECT skill_code, level FROM volunteer_profile_skills WHERE volunteer_id = $1 ORDER BY skill_code",
        volunteer_id,
    )
    windows = await db.fetch(
        "SELECT weekday, start_minute, end_minute FROM volunteer_availability WHERE volunteer_id = $1"
        " ORDER BY weekday, start_minute",
        volunteer_id,
    )
    days = await db.fetch("SELECT day FROM volunteer_days_off WHERE volunteer_id = $1 ORDER BY day", volunteer_id)
    certs = await db.fetch(
        "SELECT kind, expires_on FROM volunteer_certificates WHERE volunteer_id = $1 ORDER BY kind", volunteer_id
    )
    return VolunteerOut(
        id=volunteer["id"],
        community_id=volunteer["community_id"],
        user_id=volunteer["user_id"],
        name=volunteer["name"],
        skills=[SkillLevel(code=r["skill_code"], level=r["level"]) for r in skills],
        availability=[
            AvailabilityWindow(
                weekday=r["weekday"], start=minutes_to_hhmm(r["start_minute"]), end=minutes_to_hhmm(r["end_minute"])
            )
            for r in windows
        ],
        days_off=[r["day"] for r in days],
        certificates=[CertificateIn(kind=r["kind"], expires_on=r["expires_on"]) for r in certs],
        home_grid_id=volunteer["home_grid_id"],
        weekly_cap_minutes=volunteer["weekly_cap_minutes"],
        languages=list(volunteer["languages"]),
        tags=list(volunteer["tags"]),
        real_name=volunteer["real_name"],
        id_number_masked=volunteer["id_number_masked"],
    )


async def get_mine(*, actor: CurrentUser) -> list[VolunteerOut]:
    """The caller's own volunteer profiles, one per community they volunteer in."""
    ids = await db.fetch("SELECT id FROM volunteer_profiles WHERE user_id = $1 ORDER BY created_at, id", actor.id)
    return [await get(actor=actor, volunteer_id=r["id"]) for r in ids]


async def set_real_name(*, actor: CurrentUser, volunteer_id: UUID, real_name_in: RealNameIn) -> VolunteerOut:
    """The volunteer (or staff of their community, registering in person) records the real name and the
    identity number certificates need. Only the masked number and its keyed HMAC are stored; the same number
    cannot belong to two profiles of one community (409 `id_number_registered`)."""
    volunteer = await load_volunteer(volunteer_id, for_update=True)
    if volunteer["user_id"] != actor.id:
        await require_self_or_staff(actor, volunteer)
        await access.require_role(actor, volunteer["community_id"], "staff")
    number = identity.normalise(real_name_in.id_number.get_secret_value())
    if not identity.is_valid(number):
        # Never repeat the number in the message: it would reach the response and the logs.
        raise BadInput("not a valid 18-digit resident identity number", code=ID_NUMBER_INVALID)
    digest = identity.keyed_digest(number)
    holder = await db.fetchval(
        "SELECT id FROM volunteer_profiles WHERE community_id = $1 AND id_number_hmac = $2",
        volunteer["community_id"],
        digest,
    )
    if holder is not None and holder != volunteer_id:
        raise Conflict("this identity number belongs to another volunteer here", code=ID_NUMBER_REGISTERED)
    try:
        await db.execute(
            "UPDATE volunteer_profiles SET real_name = $2, id_number_masked = $3, id_number_hmac = $4,"
            " real_name_set_at = now(), updated_at = now() WHERE id = $1",
            volunteer_id,
            real_name_in.real_name,
            identity.mask(number),
            digest,
        )
    except asyncpg.UniqueViolationError:
        # Another profile took the number between the check and the write (the partial unique index).
        raise Conflict("this identity number belongs to another volunteer here", code=ID_NUMBER_REGISTERED) from None
    await audit.record(
        actor_user_id=actor.id,
        action="volunteer.real_name_set",
        object_type="volunteer",
        object_id=volunteer_id,
        community_id=volunteer["community_id"],
        detail={"id_number_masked": identity.mask(number)},
    )
    return await get(actor=actor, volunteer_id=volunteer_id)


async def get_all(
    *, actor: CurrentUser, community_id: UUID, skill: str | None, tag: str | None, limit: int, offset: int
) -> list[VolunteerOut]:
    """Staff browse their community's volunteers (filter by skill code or tag such as 双报到)."""
    await access.require_role(actor, community_id, "staff")
    ids = await db.fetch(
        "SELECT v.id FROM volunteer_profiles v JOIN users u ON u.id = v.user_id WHERE v.community_id = $1"
        " AND ($2::text IS NULL OR EXISTS (SELECT 1 FROM volunteer_profile_skills s"
        "      WHERE s.volunteer_id = v.id AND s.skill_code = $2))"
        " AND ($3::text IS NULL OR $3 = ANY(v.tags))"
        " ORDER BY u.name, v.id LIMIT $4 OFFSET $5",
        community_id,
        skill,
        tag,
        limit,
        offset,
    )
    return [await get(actor=actor, volunteer_id=r["id"]) for r in ids]
