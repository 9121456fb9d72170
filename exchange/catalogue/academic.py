"""Academic years: 2026 stands for 2026/27, which starts in ACADEMIC_YEAR_START_MONTH."""

from datetime import datetime

from flask import current_app

from ..core.database import utcnow


def current_academic_year(now: datetime | None = None) -> int:
    now = now or utcnow()
    start_month = current_app.config.get("ACADEMIC_YEAR_START_MONTH", 9)
    return now.year if now.month >= start_month else now.year - 1


def label(year: int | None) -> str:
    return "" if year is None else f"{year}/{(year + 1) % 100:02d}"
