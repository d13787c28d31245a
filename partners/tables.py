from piccolo.columns import JSONB, UUID, Array, Boolean, Date, ForeignKey, Integer, Text, Timestamptz, Varchar
from piccolo.columns.base import OnDelete
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.constraints import Check, Unique
from piccolo.table import Table

from community.tables import Community
from linli.tables import User


class Partner(Table, tablename="partners"):
    id = UUID(primary_key=True)
    community_id = ForeignKey(Community, null=False, on_delete=OnDelete.restrict, index=True)
    name = Varchar(length=100, null=False)
    # canteen, childcare, elderly_daycare, housekeeping, parcel, repair, health, other
    kind = Varchar(length=30, null=False)
    # pending -> approved | rejected; approved <-> suspended
    status = Varchar(length=20, null=False, default="pending")
    description = Text(null=False, default="")
    contact_phone = Varchar(length=20, null=False, default="")
    created_by = ForeignKey(User, null=False, on_delete=OnDelete.restrict)
    created_at = Timestamptz(default=TimestamptzNow(), null=False)
    updated_at = Timestamptz(default=TimestamptzNow(), null=False)
    valid_status = Check("status IN ('pending', 'approved', 'rejected', 'suspended')")


class PartnerMember(Table, tablename="partner_members"):
    id = UUID(primary_key=True)
    partner_id = ForeignKey(Partner, null=False, on_delete=OnDelete.restrict, index=True)
    community_id = UUID(null=False)
    user_id = ForeignKey(User, null=False, on_delete=OnDelete.restrict, index=True)
    role = Varchar(length=20, null=False)  # admin | staff
    created_at = Timestamptz(default=TimestamptzNow(), null=False)
    unique_partner_user = Unique([partner_id, user_id])
    valid_role = Check("role IN ('admin', 'staff')")


class RevenueShareAgreement(Table, tablename="revenue_share_agreements"):
    """One version of a partner's share of gross revenue; rows are never changed, newer versions win."""

    id = UUID(primary_key=True)
    partner_id = ForeignKey(Partner, null=False, on_delete=OnDelete.restrict, index=True)
    community_id = UUID(null=False)
    rate_bp = Integer(null=False)
    # NULL: every category of the partner; otherwise only offerings of this category.
    category = Varchar(length=30, null=True, default=None)
    effective_from = Date(null=False)
    version = Integer(null=False)
    created_by = UUID(null=False)
    created_at = Timestamptz(default=TimestamptzNow(), null=False)
    valid_rate = Check("rate_bp >= 0 AND rate_bp <= 10000")
    unique_version = Unique([partner_id, version])


class Offering(Table, tablename="offerings"):
    id = UUID(primary_key=True)
    partner_id = ForeignKey(Partner, null=False, on_delete=OnDelete.restrict, index=True)
    community_id = UUID(null=False, index=True)
    title = Varchar(length=100, null=False)
    # meal, childcare, elderly_daycare, housekeeping, parcel, repair, health, other
    category = Varchar(length=30, null=False)
    description = Text(null=False, default="")
    price_fen = Integer(null=False)
    # priority group -> subsidised unit price in fen (best price wins at booking time)
    subsidies = JSONB(null=False, default="{}")
    # draft -> published <-> paused; any -> archived
    status = Varchar(length=20, null=False, default="draft")
    on_demand = Boolean(null=False, default=False)
    min_notice_minutes = Integer(null=False, default=0)
    cancel_cutoff_minutes = Integer(null=False, default=0)
    # NULL: no limit. E.g. one subsidised meal a day per resident.
    per_resident_daily_limit = Integer(null=True, default=None)
    # NULL: a freed place goes straight to the first in line as a booking. Set: it is offered and held for
    # them this many minutes; unconfirmed, it passes to the next (e.g. childcare, where parents must say yes).
    waitlist_hold_minutes = Integer(null=True, default=None)
    accepts_time_credits = Boolean(null=False, default=False)
    # title + description + pinyin + initials, lower-cased; trigram-indexed for search.
    search_text = Text(null=False, default="")
    # Every 1- and 2-character substring of search_text's segments: serves short queries (GIN, see search_text.py).
    search_grams = Array(Text(), null=False, default=list)
    created_at = Timestamptz(default=TimestamptzNow(), null=False)
    updated_at = Timestamptz(default=TimestamptzNow(), null=False)
    valid_price = Check("price_fen >= 0")
    valid_status = Check("status IN ('draft', 'published', 'paused', 'archived')")
