"""Accounting periods: community-local calendar months written "YYYY-MM"."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from linli.errors import DomainError
from welfare.errors import INVALID_PERIOD, PERIOD_IN_FUTURE

PERIOD_PATTERN = r"^(19|20|21)[0-9]{2}-(0[1-9]|1[0-2])$"
_PERIOD = re.compile(PERIOD_PATTERN)


def check_format(period: str) -> str:
    if not _PERIOD.match(period):
        raise DomainError(f"{period!r} is not a period (YYYY-MM)", code=INVALID_PERIOD)
    return period


def period_of(moment: datetime, timezone: str) -> str:
    """The community-local month of `moment`."""
    return moment.astimezone(ZoneInfo(timezone)).strftime("%Y-%m")


def current_period(timezone: str, now: datetime | None = None) -> str:
    return period_of(now or datetime.now(UTC), timezone)


def previous(period: str, months: int = 1) -> str:
    year, month = (int(x) for x in period.split("-"))
    index = year * 12 + (month - 1) - months
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def ensure_not_future(period: str, timezone: str) -> str:
    """Refuse a malformed period or one that has not begun yet in the community's time zone."""
    check_format(period)
    if period > current_period(timezone):
        raise DomainError(f"period {period} has not begun yet", code=PERIOD_IN_FUTURE)
    return period


def recent(period: str, months: int) -> list[str]:
    """`months` periods ending with `period`, oldest first."""
    return [previous(period, k) for k in range(months - 1, -1, -1)]
