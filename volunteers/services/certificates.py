"""Volunteer service certificates (志愿服务证明) as the national record rules expect them, and their public
verification.

A certificate states a period (default: all approved service to date) and is a snapshot at issue: every
approved record of the period (date, task, organising team or partner or community, minutes net of
corrections), the period's total, the lifetime total and its star level, the holder's real name and masked
identity number, the issuing organisation with its contact, the issuing staff member. No approved service in
the period, no certificate (409 `nothing_to_certify`, nothing written). Issued is final: a wrong certificate
is revoked with a reason (once; the database refuses any other change) and a new one issued.

Anyone holding a certificate may check it: serial number plus the check code printed on it (and in its QR
code) answer the masked name, period, total, issuing community and whether it was revoked. A wrong code is
the same 404 as an unknown serial, so serial numbers cannot be enumerated.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import re
import secrets
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import quote
from uuid import UUID
from zoneinfo import ZoneInfo

import asyncpg

from community import access
from linli import audit, db
from linli.auth.security import CurrentUser
from linli.errors import BadInput, Conflict, NotFound, register_code
from linli.settings import get_settings
from volunteers import certificate_pdf, identity
from volunteers.schemas import (
    CertificateIssuerIn,
    CertificateIssuerOut,
    CertificateVerificationOut,
    RevokeIn,
    ServiceCertificateIn,
    ServiceCertificateOut,
)
from volunteers.services.common import load_volunteer, require_self_or_staff
from volunteers.services.hours import approved_minutes
from volunteers.services.profiles import settings_of, star_level

CERTIFICATE_NOT_FOUND = register_code("service_certificate_not_found", 404, "服务证明不存在", "No such certificate")
NOTHING_TO_CERTIFY = register_code(
    "nothing_to_certify",
    409,
    "该期间没有经审核的志愿服务记录,无法出具证明",
    "No approved volunteer service in this period: nothing to certify",
)
REAL_NAME_REQUIRED = register_code(
    "real_name_required",
    409,
    "请先登记志愿者的真实姓名和身份证号",
    "Record the volunteer's real name and identity number first",
)
ISSUER_CONTACT_REQUIRED = register_code(
    "certificate_issuer_required",
    409,
    "请先设置证明出具单位的联系方式",
    "Set the contact of the organisation issuing certificates first",
)
PERIOD_INVALID = register_code(
    "certificate_period_invalid", 422, "证明期间不能晚于今天", "A certificate's period cannot end after today"
)
ALREADY_REVOKED = register_code("certificate_revoked", 409, "该证明已作废", "This certificate is already revoked")

SERIAL_PATTERN = re.compile(r"^LLZY-\d{4}-\d{6,}$")
# Eight characters without look-alikes (0/O, 1/I/L): about 39 bits, read aloud or typed from paper.
CHECK_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CHECK_LENGTH = 8


def verification_url(serial_no: str, check_code: str) -> str:
    """The public verification address printed in a certificate's QR code: the console's page for people
    (console.verify), which answers what GET /api/v1/public/certificates/{serial}?code= answers machines."""
    base = get_settings().public_base_url.rstrip("/")
    return f"{base}/verify/{quote(serial_no)}?code={quote(check_code)}"


def _new_check_code() -> str:
    return "".join(secrets.choice(CHECK_ALPHABET) for _ in range(CHECK_LENGTH))


# --- the issuer ---------------------------------------------------------------------------------------------


async def _issuer(community_id: UUID) -> tuple[str, str | None, asyncpg.Record]:
    """(organisation, contact, community row); the organisation defaults to street and community name."""
    community = await db.fetchrow("SELECT name, street, timezone FROM communities WHERE id = $1", community_id)
    assert community is not None
    row = await db.fetchrow(
        "SELECT certificate_organisation, certificate_contact FROM volunteer_settings WHERE community_id = $1",
        community_id,
    )
    organisation = (row and row["certificate_organisation"]) or f"{community['street']}{community['name']}"
    contact = row["certificate_contact"] if row else None
    return organisation, contact, community


async def get_issuer(*, actor: CurrentUser, community_id: UUID) -> CertificateIssuerOut:
    await access.require_role(actor, community_id, "staff")
    organisation, contact, _ = await _issuer(community_id)
    return CertificateIssuerOut(community_id=community_id, organisation=organisation, contact=contact)


async def set_issuer(*, actor: CurrentUser, community_id: UUID, issuer_in: CertificateIssuerIn) -> CertificateIssuerOut:
    """The community admin names the organisation printed on certificates and how to reach it."""
    await access.require_role(actor, community_id, "admin")
    # An empty threshold list means "national defaults" (profiles.settings_of), so this row changes no stars.
    await db.execute(
        "INSERT INTO volunteer_settings (id, community_id, star_thresholds_hours, timebank_cap_minutes,"
        " certificate_organisation, certificate_contact, updated_at)"
        " VALUES (gen_random_uuid(), $1, '{}', $2, $3, $4, now()) ON CONFLICT (community_id) DO UPDATE"
        " SET certificate_organisation = EXCLUDED.certificate_organisation,"
        " certificate_contact = EXCLUDED.certificate_contact, updated_at = now()",
        community_id,
        (await settings_of(community_id)).timebank_cap_minutes,
        issuer_in.organisation,
        issuer_in.contact,
    )
    await audit.record(
        actor_user_id=actor.id,
        action="volunteers.certificate_issuer_set",
        object_type="community",
        object_id=community_id,
        community_id=community_id,
        detail=issuer_in.model_dump(),
    )
    return await get_issuer(actor=actor, community_id=community_id)


# --- issuing ------------------------------------------------------------------------------------------------


async def _records(volunteer_id: UUID, tz: str, period_from: date | None, period_to: date) -> list[dict[str, Any]]:
    """Every assignment with approved minutes (net of corrections) whose task began in the period, local
    dates, oldest first; organised by the team it was served with, else the task's partner, else nobody named
    (the community itself)."""
    rows = await db.fetch(
        "SELECT (t.starts_at AT TIME ZONE $2)::date AS served_on, t.title, tm.name AS team_name,"
        " p.name AS partner_name, sum(e.minutes)::int AS minutes"
        " FROM volunteer_hours_entries e JOIN volunteer_tasks t ON t.id = e.task_id"
        " LEFT JOIN volunteer_teams tm ON tm.id = e.team_id LEFT JOIN partners p ON p.id = t.partner_id"
        " WHERE e.volunteer_id = $1 AND (t.starts_at AT TIME ZONE $2)::date <= $4"
        " AND ($3::date IS NULL OR (t.starts_at AT TIME ZONE $2)::date >= $3)"
        " GROUP BY e.assignment_id, t.starts_at, t.title, tm.name, p.name HAVING sum(e.minutes) > 0"
        " ORDER BY t.starts_at, e.assignment_id",
        volunteer_id,
        tz,
        period_from,
        period_to,
    )
    return [
        {
            "served_on": r["served_on"].isoformat(),
            "title": r["title"],
            "organiser": r["team_name"] or r["partner_name"] or "",
            "minutes": r["minutes"],
        }
        for r in rows
    ]


async def issue(
    *, actor: CurrentUser, volunteer_id: UUID, certificate_in: ServiceCertificateIn, now: datetime | None = None
) -> ServiceCertificateOut:
    """Community staff issue a numbered certificate of the volunteer's approved service in a period.

    Refusals write nothing: no approved service in the period (409 `nothing_to_certify`), no real name on the
    profile (409 `real_name_required`), no issuer contact set (409 `certificate_issuer_required`)."""
    now = now or datetime.now(UTC)
    volunteer = await load_volunteer(volunteer_id)
    community_id = volunteer["community_id"]
    await access.require_role(actor, community_id, "staff")
    organisation, contact, community = await _issuer(community_id)
    today = now.astimezone(ZoneInfo(community["timezone"])).date()
    period_to = certificate_in.period_to or today
    if period_to > today:
        raise BadInput("the period cannot end after today", code=PERIOD_INVALID)
    records = await _records(volunteer_id, community["timezone"], certificate_in.period_from, period_to)
    if not records:
        raise Conflict("no approved service in this period", code=NOTHING_TO_CERTIFY)
    if volunteer["real_name"] is None:
        raise Conflict("the volunteer's real name and identity number are not recorded", code=REAL_NAME_REQUIRED)
    if not contact:
        raise Conflict("the issuing organisation has no contact", code=ISSUER_CONTACT_REQUIRED)
    period_from = certificate_in.period_from or date.fromisoformat(records[0]["served_on"])
    lifetime = await approved_minutes(volunteer_id)
    thresholds = (await settings_of(community_id)).star_thresholds_hours
    serial = await db.fetchval("SELECT nextval('volunteer_service_certificate_serial')")
    serial_no = f"LLZY-{today:%Y}-{serial:06d}"
    row = await db.fetchrow(
        "INSERT INTO volunteer_service_certificates (id, community_id, volunteer_id, serial_no, check_code,"
        " period_from, period_to, approved_minutes, lifetime_minutes, star_level, records, activities, holder_name,"
        " holder_id_masked, issuer_organisation, issuer_contact, issued_by, issued_by_name, issued_at)"
        " VALUES (gen_random_uuid(), $1, $2, $3, $4, $5, $6, $7, $8, $9, $10::jsonb, '[]', $11, $12, $13, $14, $15,"
        " $16, $17) RETURNING *",
        community_id,
        volunteer_id,
        serial_no,
        _new_check_code(),
        period_from,
        period_to,
        sum(r["minutes"] for r in records),
        lifetime,
        star_level(lifetime, thresholds),
        json.dumps(records, ensure_ascii=False),
        volunteer["real_name"],
        volunteer["id_number_masked"],
        organisation,
        contact,
        actor.id,
        actor.name,
        now,
    )
    assert row is not None
    await audit.record(
        actor_user_id=actor.id,
        action="volunteer.certificate_issued",
        object_type="volunteer",
        object_id=volunteer_id,
        community_id=community_id,
        detail={"serial_no": serial_no, "minutes": row["approved_minutes"], "records": len(records)},
    )
    return _out(row)


def _records_of(row: asyncpg.Record) -> list[dict[str, Any]]:
    raw = row["records"]
    records: list[dict[str, Any]] = json.loads(raw) if isinstance(raw, str) else raw
    if not records and row["check_code"] is None:
        # Issued before certificates listed records: per-task totals without dates or organisers.
        raw = row["activities"]
        acts = json.loads(raw) if isinstance(raw, str) else raw
        records = [{"served_on": None, "title": a["title"], "organiser": "", "minutes": a["minutes"]} for a in acts]
    return records


def _out(row: asyncpg.Record) -> ServiceCertificateOut:
    code = row["check_code"]
    return ServiceCertificateOut(
        id=row["id"],
        serial_no=row["serial_no"],
        check_code=code,
        verification_url=verification_url(row["serial_no"], code) if code else None,
        community_id=row["community_id"],
        volunteer_id=row["volunteer_id"],
        status="revoked" if row["revoked_at"] else "valid",
        period_from=row["period_from"],
        period_to=row["period_to"],
        approved_minutes=row["approved_minutes"],
        lifetime_minutes=row["lifetime_minutes"],
        star_level=row["star_level"],
        record_count=len(_records_of(row)),
        holder_name=row["holder_name"],
        holder_id_masked=row["holder_id_masked"],
        issuer_organisation=row["issuer_organisation"],
        issuer_contact=row["issuer_contact"],
        issued_by_name=row["issued_by_name"],
        issued_at=row["issued_at"],
        revoked_at=row["revoked_at"],
        revoke_reason=row["revoke_reason"],
    )


# --- reading, downloading, revoking -------------------------------------------------------------------------


async def _load_visible(actor: CurrentUser, certificate_id: UUID, *, for_update: bool = False) -> asyncpg.Record:
    """The certificate, for its volunteer and staff of its community; to anyone else it does not exist."""
    row = await db.fetchrow(
        "SELECT * FROM volunteer_service_certificates WHERE id = $1" + (" FOR UPDATE" if for_update else ""),
        certificate_id,
    )
    if row is None:
        raise NotFound("no such certificate", code=CERTIFICATE_NOT_FOUND)
    volunteer = await load_volunteer(row["volunteer_id"])
    if volunteer["user_id"] != actor.id and not await access.has_role(actor, row["community_id"], "staff"):
        raise NotFound("no such certificate", code=CERTIFICATE_NOT_FOUND)
    return row


async def get(*, actor: CurrentUser, certificate_id: UUID) -> ServiceCertificateOut:
    return _out(await _load_visible(actor, certificate_id))


async def get_all(*, actor: CurrentUser, volunteer_id: UUID) -> list[ServiceCertificateOut]:
    """A volunteer's certificates, newest first (the volunteer, or staff of their community)."""
    volunteer = await load_volunteer(volunteer_id)
    await require_self_or_staff(actor, volunteer)
    rows = await db.fetch(
        "SELECT * FROM volunteer_service_certificates WHERE volunteer_id = $1 ORDER BY issued_at DESC, serial_no DESC",
        volunteer_id,
    )
    return [_out(r) for r in rows]


async def pdf(*, actor: CurrentUser, certificate_id: UUID) -> tuple[str, bytes]:
    """(serial number, PDF bytes) of an issued certificate, for the volunteer or staff of its community. A
    revoked certificate still downloads, marked as revoked on its first page."""
    row = await _load_visible(actor, certificate_id)
    volunteer = await load_volunteer(row["volunteer_id"])
    community = await db.fetchrow("SELECT name, street, timezone FROM communities WHERE id = $1", row["community_id"])
    assert community is not None
    tz = ZoneInfo(community["timezone"])
    code = row["check_code"]
    content = certificate_pdf.CertificateContent(
        serial_no=row["serial_no"],
        check_code=code,
        verification_url=verification_url(row["serial_no"], code) if code else None,
        holder_name=row["holder_name"] or volunteer["name"],
        holder_id_masked=row["holder_id_masked"],
        period_from=row["period_from"],
        period_to=row["period_to"],
        approved_minutes=row["approved_minutes"],
        lifetime_minutes=row["lifetime_minutes"],
        star_level=row["star_level"],
        records=[
            certificate_pdf.Record(
                served_on=date.fromisoformat(r["served_on"]) if r["served_on"] else None,
                title=r["title"],
                organiser=r["organiser"] or f"{community['street']}{community['name']}",
                minutes=r["minutes"],
            )
            for r in _records_of(row)
        ],
        community=f"{community['street']}{community['name']}",
        organisation=row["issuer_organisation"] or f"{community['street']}{community['name']}",
        contact=row["issuer_contact"],
        issued_by_name=row["issued_by_name"],
        issued_on=row["issued_at"].astimezone(tz).date(),
        revoked_on=row["revoked_at"].astimezone(tz).date() if row["revoked_at"] else None,
        revoke_reason=row["revoke_reason"],
    )
    # Rendering (font parsing and subsetting, hundreds of rows) takes CPU time: keep it off the event loop.
    return row["serial_no"], await asyncio.to_thread(certificate_pdf.render, content)


async def revoke(*, actor: CurrentUser, certificate_id: UUID, revoke_in: RevokeIn) -> ServiceCertificateOut:
    """Staff of the issuing community revoke a wrong certificate, once, with a reason (it is never edited;
    issue a new one). Verification says so from then on."""
    first = await _load_visible(actor, certificate_id)
    await access.require_role(actor, first["community_id"], "staff")
    row = await _load_visible(actor, certificate_id, for_update=True)
    if row["revoked_at"] is not None:
        raise Conflict("already revoked", code=ALREADY_REVOKED)
    updated = await db.fetchrow(
        "UPDATE volunteer_service_certificates SET revoked_at = now(), revoked_by = $2, revoke_reason = $3"
        " WHERE id = $1 RETURNING *",
        certificate_id,
        actor.id,
        revoke_in.reason,
    )
    assert updated is not None
    await audit.record(
        actor_user_id=actor.id,
        action="volunteer.certificate_revoked",
        object_type="volunteer_service_certificate",
        object_id=certificate_id,
        community_id=row["community_id"],
        reason=revoke_in.reason,
        detail={"serial_no": row["serial_no"]},
    )
    return _out(updated)


# --- public verification ------------------------------------------------------------------------------------


async def verify(*, serial: str, check_code: str) -> CertificateVerificationOut:
    """What a certificate's serial number and check code confirm, for anyone (no sign-in): the holder's
    masked name, the period and its total, the issuing community, and whether it was revoked. An unknown
    serial and a wrong code are the same 404 `service_certificate_not_found`."""
    code = check_code.strip().upper()
    if not SERIAL_PATTERN.match(serial) or len(code) != CHECK_LENGTH:
        raise NotFound("no such certificate", code=CERTIFICATE_NOT_FOUND)
    row = await db.fetchrow(
        "SELECT c.*, m.name AS community_name, m.street, m.timezone FROM volunteer_service_certificates c"
        " JOIN communities m ON m.id = c.community_id WHERE c.serial_no = $1",
        serial,
    )
    # Certificates from before verification have no code and cannot be confirmed this way.
    if row is None or row["check_code"] is None or not hmac.compare_digest(row["check_code"], code):
        raise NotFound("no such certificate", code=CERTIFICATE_NOT_FOUND)
    community = f"{row['street']}{row['community_name']}"
    return CertificateVerificationOut(
        serial_no=row["serial_no"],
        status="revoked" if row["revoked_at"] else "valid",
        holder_masked_name=identity.mask_name(row["holder_name"] or ""),
        period_from=row["period_from"],
        period_to=row["period_to"],
        approved_minutes=row["approved_minutes"],
        star_level=row["star_level"],
        issuing_community=community,
        issuer_organisation=row["issuer_organisation"] or community,
        issued_on=row["issued_at"].astimezone(ZoneInfo(row["timezone"])).date(),
        revoked_at=row["revoked_at"],
        revoke_reason=row["revoke_reason"],
    )
