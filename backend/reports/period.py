"""The date range every report takes: Shanghai calendar days, from and to inclusive, bounded."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import Date, cast, func
from sqlalchemy.orm import Session

from backend.errors import BadRequest
from backend.timeutil import SHANGHAI, to_aware_utc, to_naive_utc, utcnow

MAX_DAYS = 400  # a year and a season: longer ranges are refused, not slow
DEFAULT_DAYS = 30


@dataclass(frozen=True)
class Period:
    first: date
    last: date

    @property
    def since(self) -> datetime:
        """The first day's Shanghai midnight, as the naive UTC the database stores."""
        return to_naive_utc(datetime.combine(self.first, time.min, tzinfo=SHANGHAI))

    @property
    def until(self) -> datetime:
        return to_naive_utc(
            datetime.combine(self.last + timedelta(days=1), time.min, tzinfo=SHANGHAI)
        )

    def days(self) -> list[date]:
        return [self.first + timedelta(days=n) for n in range((self.last - self.first).days + 1)]


def today() -> date:
    """Today in Shanghai."""
    return to_aware_utc(utcnow()).astimezone(SHANGHAI).date()


def period(first: str | None, last: str | None) -> Period:
    """The range asked for (年-月-日 strings, either may be missing: the last DEFAULT_DAYS days
    up to today); BadRequest for a date that is not one, an inverted range or one too long."""

    def parse(raw: str | None, label: str) -> date | None:
        if not raw:
            return None
        try:
            return date.fromisoformat(raw.strip()[:10])
        except ValueError:
            raise BadRequest(
                f"{label}格式应为 年-月-日，例如 2026-01-31", code="REPORT_DATE_INVALID"
            ) from None

    end = parse(last, "结束日期") or today()
    start = parse(first, "开始日期") or end - timedelta(days=DEFAULT_DAYS - 1)
    if end < start:
        raise BadRequest("结束日期早于开始日期", code="REPORT_RANGE_INVERTED")
    if (end - start).days + 1 > MAX_DAYS:
        raise BadRequest(f"日期范围最长 {MAX_DAYS} 天，请缩短范围", code="REPORT_RANGE_TOO_LONG")
    return Period(start, end)


def shanghai_day(session: Session, column):
    """The Shanghai calendar day of a UTC timestamp column, as SQL: 'YYYY-MM-DD' text on
    SQLite, a date on PostgreSQL (grouping by a date is much cheaper there than by formatted
    text); `str()` of either is the ISO day."""
    if session.get_bind().dialect.name == "sqlite":
        return func.date(column, "+8 hours")
    return cast(column + timedelta(hours=8), Date)
