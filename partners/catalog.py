"""The public catalog: published offerings of approved partners, searched by Chinese text, pinyin and filters.

See `partners.search_text` for how `q` is matched and indexed. The SQL is built by `catalog_sql` so the
search benchmark can run exactly the same statement on bare asyncpg.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any
from uuid import UUID

from linli import db
from partners import search_text
from partners.offerings import COLUMNS, to_out
from partners.schemas import CatalogItem, CatalogPage


@dataclass(frozen=True)
class CatalogQuery:
    q: str | None = None
    category: str | None = None
    community_id: UUID | None = None
    partner_id: UUID | None = None
    date_from: date | None = None
    date_to: date | None = None
    available: bool = False
    subsidised_for: UUID | None = None  # a user id: only offerings subsidised for their priority groups
    limit: int = 20
    offset: int = 0


def catalog_sql(query: CatalogQuery) -> tuple[str, list[Any]]:
    """The catalog statement and its arguments (one round trip: the page and the total)."""
    args: list[Any] = []

    def arg(value: Any) -> str:
        args.append(value)
        return f"${len(args)}"

    where = ["o.status = 'published'", "p.status = 'approved'"]
    q = search_text.normalise_query(query.q) if query.q else ""
    if q:
        if len(q) <= search_text.SHORT_QUERY_CHARS:
            where.append(f"o.search_grams @> ARRAY[{arg(q)}]::text[]")
        else:
            where.append(f"o.search_text LIKE {arg(search_text.like_pattern(q))}")
    if query.category:
        where.append(f"o.category = {arg(query.category)}")
    if query.community_id:
        where.append(f"o.community_id = {arg(query.community_id)}")
    if query.partner_id:
        where.append(f"o.partner_id = {arg(query.partner_id)}")
    if query.available or query.date_from or query.date_to:
        # A free place in an open slot within the local-date range (from today when no start is given).
        # On-demand offerings have no slots: they are available whenever their partner is selling.
        tz = "(SELECT c.timezone FROM communities c WHERE c.id = o.community_id)"
        lower = f"({arg(query.date_from)}::date::timestamp AT TIME ZONE {tz})" if query.date_from else "now()"
        upper = (
            f" AND s.starts_at < (({arg(query.date_to)}::date + 1)::timestamp AT TIME ZONE {tz})"
            if query.date_to
            else ""
        )
        where.append(
            "(o.on_demand OR EXISTS (SELECT 1 FROM slots s WHERE s.offering_id = o.id AND s.status = 'open'"
            f" AND s.booked < s.capacity AND s.starts_at >= greatest({lower}, now()){upper}))"
        )
    if query.subsidised_for:
        where.append(
            "EXISTS (SELECT 1 FROM community_residents r WHERE r.community_id = o.community_id"
            f" AND r.user_id = {arg(query.subsidised_for)} AND o.subsidies ?| r.priority_groups)"
        )
    columns = ", ".join(f"o.{c.strip()}" for c in COLUMNS.split(","))
    sql = (
        f"SELECT {columns}, p.name AS partner_name, p.kind AS partner_kind, count(*) OVER () AS total"
        " FROM offerings o JOIN partners p ON p.id = o.partner_id"
        f" WHERE {' AND '.join(where)}"
        f" ORDER BY o.created_at DESC, o.id LIMIT {arg(query.limit)} OFFSET {arg(query.offset)}"
    )
    return sql, args


async def search(*, query: CatalogQuery) -> CatalogPage:
    """One page of the catalog with the total number of matches."""
    sql, args = catalog_sql(query)
    rows = await db.fetch(sql, *args)
    if rows:
        total = rows[0]["total"]
    elif query.offset > 0:
        # Past the last page the window function sees no rows; count separately for an honest total.
        counted = CatalogQuery(**{**query.__dict__, "limit": 1, "offset": 0})
        sql, args = catalog_sql(counted)
        first = await db.fetch(sql, *args)
        total = first[0]["total"] if first else 0
    else:
        total = 0
    items = [
        CatalogItem(**to_out(r).model_dump(), partner_name=r["partner_name"], partner_kind=r["partner_kind"])
        for r in rows
    ]
    return CatalogPage(items=items, total=total, limit=query.limit, offset=query.offset)
