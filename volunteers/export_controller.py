"""HTTP: the national volunteer records export of a community (volunteers.services.export), as CSV or XLSX."""

from __future__ import annotations

from datetime import date
from typing import Annotated
from uuid import UUID

from litestar import Controller, Response, get
from litestar.params import FromPath, QueryParameter

from linli import db
from linli.auth.security import Caller, CurrentUser
from volunteers.services import export

Since = Annotated[date | None, QueryParameter(name="from", description="first local day of service, inclusive")]
Until = Annotated[date | None, QueryParameter(name="to", description="last local day of service, inclusive")]


async def _download(
    user: CurrentUser, community_id: UUID, file_format: str, period_from: date | None, period_to: date | None
) -> Response[bytes]:
    async with db.unit_of_work():
        result = await export.export_file(
            actor=user, community_id=community_id, file_format=file_format, period_from=period_from, period_to=period_to
        )
    # Personal data: no cache on the way keeps a copy.
    headers = {"Content-Disposition": result.content_disposition, "Cache-Control": "no-store"}
    return Response(result.content, media_type=result.media_type, headers=headers)


class NationalRecordsController(Controller):
    """Community staff download their volunteers' approved service for 全国志愿服务信息系统 (志愿中国)."""

    path = "/communities/{community_id:uuid}/volunteer-records"
    tags = ["volunteers"]

    @get(
        "/national.csv",
        summary="National volunteer records as CSV (UTF-8 with BOM)",
        media_type=export.MEDIA_TYPES["csv"],
    )
    async def national_csv(
        self, user: Caller, community_id: FromPath[UUID], period_from: Since = None, period_to: Until = None
    ) -> Response[bytes]:
        return await _download(user, community_id, "csv", period_from, period_to)

    @get(
        "/national.xlsx",
        summary="National volunteer records as an Excel workbook (records and volunteers)",
        media_type=export.MEDIA_TYPES["xlsx"],
    )
    async def national_xlsx(
        self, user: Caller, community_id: FromPath[UUID], period_from: Since = None, period_to: Until = None
    ) -> Response[bytes]:
        return await _download(user, community_id, "xlsx", period_from, period_to)
