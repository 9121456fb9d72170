"""Times in a stated time zone: a call's dates are shown in the zone they were set in."""

from datetime import datetime
from zoneinfo import ZoneInfo

from flask_babel import format_datetime


def format_in_zone(value: datetime | None, zone: str, fmt: str = "medium") -> str:
    """`value` (aware, UTC) as wall-clock time in `zone`, with the zone's name."""
    if value is None:
        return ""
    local = value.astimezone(ZoneInfo(zone))
    return f"{format_datetime(local.replace(tzinfo=None), fmt, rebase=False)} ({zone})"
