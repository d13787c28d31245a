"""Volunteers' tables: profiles, skills, teams, tasks, assignments, the hours ledger and the time bank.

Every table carries `community_id` (the distribution column if the database is ever sharded). Times are UTC
`timestamptz`; availability is stored as local minutes of the day in the community's time zone.
Append-only tables (hours ledger, time-bank entries) are guarded by triggers written in the raw migration.
"""

from piccolo.columns import (
    JSONB,
    UUID,
    Array,
    Boolean,
    Date,
    ForeignKey,
    Integer,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.columns.base import OnDelete
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.constraints import Check, Unique
from piccolo.table import Table

from community.tables import Community
from linli.tables import User


class Skill(Table, tablename="volunteer_skills"):
    """The community's skill catalog, maintained by its staff (code + Chinese name)."""

    id = UUID(primary_key=True)
    community_id = ForeignKey(Community, null=False, on_delete=OnDelete.restrict, index=True)
    code = Varchar(length=40, null=False)
    name_zh = Varchar(length=60, null=False)
    # A certificate kind every holder of this skill must have valid on the day (e.g. 急救 -> first_aid).
    requires_certificate = Varchar(length=40, null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow(), null=False)
    unique_code = Unique([community_id, code])


class VolunteerSettings(Table, tablename="volunteer_settings"):
    """Per-community configuration; absent row = national defaults."""

    id = UUID(primary_key=True)
    community_id = ForeignKey(Community, null=False, on_delete=OnDelete.restrict, unique=True)
    star_thresholds_hours = Array(Integer(), null=False, default=list)
    timebank_cap_minutes = Integer(null=False, default=90000)
    # Printed on service certificates: the issuing organisation (default: street and community) and contact.
    certificate_organisation = Varchar(length=100, null=True, default=None)
    certificate_contact = Varchar(length=100, null=True, default=None)
    updated_at = Timestamptz(default=TimestamptzNow(), null=False)


class Volunteer(Table, tablename="volunteer_profiles"):
    id = UUID(primary_key=True)
    community_id = ForeignKey(Community, null=False, on_delete=OnDelete.restrict, index=True)
    user_id = ForeignKey(User, null=False, on_delete=OnDelete.restrict, index=True)
    home_grid_id = UUID(null=True, default=None)
    weekly_cap_minutes = Integer(null=True, default=None)
    languages = Array(Varchar(length=30), null=False, default=list)
    tags = Array(Varchar(length=30), null=False, default=list)
    # Real-name data for certificates (volunteers.identity): the identity number only masked and as a keyed
    # HMAC (unique per community, partial index in the raw migration), never in full. All three or none.
    real_name = Varchar(length=50, null=True, default=None)
    id_number_masked = Varchar(length=18, null=True, default=None)
    id_number_hmac = Varchar(length=64, null=True, default=None)
    real_name_set_at = Timestamptz(null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow(), null=False)
    updated_at = Timestamptz(default=TimestamptzNow(), null=False)
    unique_user = Unique([community_id, user_id])
    valid_cap = Check("weekly_cap_minutes IS NULL OR weekly_cap_minutes > 0")


class VolunteerSkill(Table, tablename="volunteer_profile_skills"):
    id = UUID(primary_key=True)
    volunteer_id = ForeignKey(Volunteer, null=False, on_delete=OnDelete.cascade, index=True)
    community_id = UUID(null=False)
    skill_code = Varchar(length=40, null=False)
    level = Integer(null=False)
    unique_skill = Unique([volunteer_id, skill_code])
    valid_level = Check("level BETWEEN 1 AND 5")


class Availability(Table, tablename="volunteer_availability"):
    """A weekly window in community local time: weekday 1 = Monday … 7 = Sunday, minutes since midnight."""

    id = UUID(primary_key=True)
    volunteer_id = ForeignKey(Volunteer, null=False, on_delete=OnDelete.cascade, index=True)
    community_id = UUID(null=False)
    weekday = Integer(null=False)
    start_minute = Integer(null=False)
    end_minute = Integer(null=False)
    valid_weekday = Check("weekday BETWEEN 1 AND 7")
    valid_window = Check("start_minute >= 0 AND end_minute <= 1440 AND start_minute < end_minute")


class DayOff(Table, tablename="volunteer_days_off"):
    id = UUID(primary_key=True)
    volunteer_id = ForeignKey(Volunteer, null=False, on_delete=OnDelete.cascade, index=True)
    community_id = UUID(null=False)
    day = Date(null=False)
    unique_day = Unique([volunteer_id, day])


class Certificate(Table, tablename="volunteer_certificates"):
    """A qualification (first aid, food-handling health certificate …) valid until `expires_on` inclusive."""

    id = UUID(primary_key=True)
    volunteer_id = ForeignKey(Volunteer, null=False, on_delete=OnDelete.cascade, index=True)
    community_id = UUID(null=False)
    kind = Varchar(length=40, null=False)
    expires_on = Date(null=False)
    unique_kind = Unique([volunteer_id, kind])


class Team(Table, tablename="volunteer_teams"):
    id = UUID(primary_key=True)
    community_id = ForeignKey(Community, null=False, on_delete=OnDelete.restrict, index=True)
    name = Varchar(length=100, null=False)
    leader_volunteer_id = ForeignKey(Volunteer, null=False, on_delete=OnDelete.restrict)
    created_at = Timestamptz(default=TimestamptzNow(), null=False)
    unique_name = Unique([community_id, name])


class TeamMember(Table, tablename="volunteer_team_members"):
    id = UUID(primary_key=True)
    team_id = ForeignKey(Team, null=False, on_delete=OnDelete.cascade, index=True)
    community_id = UUID(null=False)
    volunteer_id = ForeignKey(Volunteer, null=False, on_delete=OnDelete.restrict, index=True)
    created_at = Timestamptz(default=TimestamptzNow(), null=False)
    unique_member = Unique([team_id, volunteer_id])


class Task(Table, tablename="volunteer_tasks"):
    id = UUID(primary_key=True)
    community_id = ForeignKey(Community, null=False, on_delete=OnDelete.restrict, index=True)
    # task | help_request
    kind = Varchar(length=20, null=False, default="task")
    title = Varchar(length=100, null=False)
    description = Text(null=False, default="")
    location = Varchar(length=200, null=False, default="")
    owner_user_id = ForeignKey(User, null=False, on_delete=OnDelete.restrict)
    partner_id = UUID(null=True, default=None)
    coordinator_user_id = UUID(null=True, default=None)
    requester_user_id = UUID(null=True, default=None)
    # [{"code": "meal_delivery", "min_level": 2}, …]
    required_skills = JSONB(null=False, default="[]")
    required_certificates = Array(Varchar(length=40), null=False, default=list)
    language = Varchar(length=30, null=True, default=None)
    volunteers_needed = Integer(null=False)
    starts_at = Timestamptz(null=False)
    ends_at = Timestamptz(null=False)
    grid_id = UUID(null=True, default=None)
    urgent = Boolean(null=False, default=False)
    offer_window_minutes = Integer(null=False, default=60)
    series_id = UUID(null=True, default=None, index=True)
    # open -> full -> completed; open|full -> cancelled
    status = Varchar(length=20, null=False, default="open")
    escalated_at = Timestamptz(null=True, default=None)
    check_in_code = Varchar(length=12, null=True, default=None)
    check_in_code_expires_at = Timestamptz(null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow(), null=False)
    valid_window = Check("ends_at > starts_at")
    valid_places = Check("volunteers_needed BETWEEN 1 AND 500")
    valid_status = Check("status IN ('open', 'full', 'completed', 'cancelled')")
    valid_kind = Check("kind IN ('task', 'help_request')")


class TeamOffer(Table, tablename="volunteer_team_offers"):
    """A task offered to a whole team: the leader accepts and names the members who go."""

    id = UUID(primary_key=True)
    task_id = ForeignKey(Task, null=False, on_delete=OnDelete.restrict, index=True)
    community_id = UUID(null=False)
    team_id = ForeignKey(Team, null=False, on_delete=OnDelete.restrict, index=True)
    # offered -> accepted | declined | expired | withdrawn
    status = Varchar(length=20, null=False, default="offered")
    offered_at = Timestamptz(default=TimestamptzNow(), null=False)
    expires_at = Timestamptz(null=False)
    responded_at = Timestamptz(null=True, default=None)
    unique_team_task = Unique([task_id, team_id])


class Assignment(Table, tablename="volunteer_assignments"):
    """One volunteer on one task: an offer, then its lifecycle up to approved hours."""

    id = UUID(primary_key=True)
    task_id = ForeignKey(Task, null=False, on_delete=OnDelete.restrict, index=True)
    community_id = UUID(null=False, index=True)
    volunteer_id = ForeignKey(Volunteer, null=False, on_delete=OnDelete.restrict, index=True)
    team_id = UUID(null=True, default=None)
    # offered -> accepted | declined | expired | withdrawn; accepted -> checked_in | cancelled | no_show;
    # checked_in -> checked_out; checked_out -> approved
    status = Varchar(length=20, null=False, default="offered")
    score = Integer(null=False, default=0)
    reasons = JSONB(null=False, default="[]")
    offered_at = Timestamptz(default=TimestamptzNow(), null=False)
    expires_at = Timestamptz(null=True, default=None)
    responded_at = Timestamptz(null=True, default=None)
    checked_in_at = Timestamptz(null=True, default=None)
    checked_out_at = Timestamptz(null=True, default=None)
    auto_checked_out = Boolean(null=False, default=False)
    needs_review = Boolean(null=False, default=False)
    approved_minutes = Integer(null=True, default=None)
    approved_by = UUID(null=True, default=None)
    approved_at = Timestamptz(null=True, default=None)
    unique_task_volunteer = Unique([task_id, volunteer_id])
    valid_status = Check(
        "status IN ('offered', 'accepted', 'declined', 'expired', 'withdrawn', 'checked_in', 'checked_out',"
        " 'approved', 'cancelled', 'no_show')"
    )


class HoursEntry(Table, tablename="volunteer_hours_entries"):
    """The append-only hours ledger: an approval, then corrections as new signed entries."""

    id = UUID(primary_key=True)
    community_id = UUID(null=False, index=True)
    volunteer_id = ForeignKey(Volunteer, null=False, on_delete=OnDelete.restrict, index=True)
    assignment_id = ForeignKey(Assignment, null=False, on_delete=OnDelete.restrict, index=True)
    task_id = UUID(null=False)
    team_id = UUID(null=True, default=None)
    # approval | correction
    kind = Varchar(length=20, null=False)
    minutes = Integer(null=False)
    # YYYY-MM of the task's start, community time
    period = Varchar(length=7, null=False)
    memo = Text(null=False, default="")
    created_by = UUID(null=False)
    created_at = Timestamptz(default=TimestamptzNow(), null=False)
    valid_kind = Check("kind IN ('approval', 'correction')")


class ServiceCertificate(Table, tablename="volunteer_service_certificates"):
    """A numbered 志愿服务证明 issued by the community: a snapshot of the approved service of a period.

    Never edited (database trigger): a wrong certificate is revoked once (`revoked_*`) and a new one issued.
    Rows issued before certificates became verifiable have no `check_code` and list `activities` only.
    """

    id = UUID(primary_key=True)
    community_id = UUID(null=False, index=True)
    volunteer_id = ForeignKey(Volunteer, null=False, on_delete=OnDelete.restrict, index=True)
    serial_no = Varchar(length=40, null=False, unique=True)
    # printed on the certificate and in its QR code; public verification needs serial and code together
    check_code = Varchar(length=12, null=True, default=None)
    period_from = Date(null=True, default=None)
    period_to = Date(null=True, default=None)
    # minutes of the period; the star level follows `lifetime_minutes` (all approved service at issue)
    approved_minutes = Integer(null=False)
    lifetime_minutes = Integer(null=True, default=None)
    star_level = Integer(null=False)
    # [{"date", "title", "organiser", "minutes"}, …] every approved record of the period
    records = JSONB(null=False, default="[]")
    activities = JSONB(null=False, default="[]")
    holder_name = Varchar(length=50, null=True, default=None)
    holder_id_masked = Varchar(length=18, null=True, default=None)
    issuer_organisation = Varchar(length=100, null=True, default=None)
    issuer_contact = Varchar(length=100, null=True, default=None)
    issued_by = UUID(null=False)
    issued_by_name = Varchar(length=100, null=True, default=None)
    issued_at = Timestamptz(default=TimestamptzNow(), null=False)
    revoked_at = Timestamptz(null=True, default=None)
    revoked_by = UUID(null=True, default=None)
    revoke_reason = Varchar(length=200, null=True, default=None)


class TimeAccount(Table, tablename="timebank_accounts"):
    """A time-bank account: a person's (`user`), or the community's `issuance`, `pool` and `spent` accounts."""

    id = UUID(primary_key=True)
    community_id = UUID(null=False, index=True)
    kind = Varchar(length=20, null=False)
    # the person for `user` accounts; NULL for the community's own accounts (uniqueness via a partial index)
    owner_user_id = UUID(null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow(), null=False)
    valid_kind = Check("kind IN ('user', 'issuance', 'pool', 'spent')")


class TimeTransaction(Table, tablename="timebank_transactions"):
    id = UUID(primary_key=True)
    community_id = UUID(null=False, index=True)
    # credit | correction | gift | donation | spend
    kind = Varchar(length=20, null=False)
    # natural idempotency key (e.g. "approval:<assignment>", "spend:<booking>")
    source_key = Varchar(length=120, null=False, unique=True)
    memo = Text(null=False, default="")
    created_by = UUID(null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow(), null=False)


class TimeEntry(Table, tablename="timebank_entries"):
    """Signed minutes on one account; the entries of a transaction sum to zero (checked at commit)."""

    id = UUID(primary_key=True)
    transaction_id = ForeignKey(TimeTransaction, null=False, on_delete=OnDelete.restrict, index=True)
    community_id = UUID(null=False)
    account_id = ForeignKey(TimeAccount, null=False, on_delete=OnDelete.restrict, index=True)
    minutes = Integer(null=False)
    created_at = Timestamptz(default=TimestamptzNow(), null=False)
