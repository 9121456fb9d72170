"""Call dates: entered as wall-clock times in the call's own time zone (the office sets
"closes 1 March at 17:00 Beijing time") and stored in UTC."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo


def local_to_utc(local: datetime, zone: str) -> tuple[datetime, str | None]:
    """The UTC instant of the wall-clock time `local` in `zone`, and what was odd about it:
    "gap" when the clocks skipped that time (it is read with the offset before the jump, so
    02:30 becomes 03:30, as RFC 5545 does), "ambiguous" when it happened twice (the first
    occurrence is taken), else None."""
    if local.tzinfo is not None:
        return local.astimezone(UTC), None
    tz = ZoneInfo(zone)
    first = local.replace(tzinfo=tz, fold=0)
    instant = first.astimezone(UTC)
    if instant.astimezone(tz).replace(tzinfo=None) != local:
        return instant, "gap"
    if first.utcoffset() != local.replace(tzinfo=tz, fold=1).utcoffset():
        return instant, "ambiguous"
    return instant, None


def utc_to_local(moment: datetime | None, zone: str) -> datetime | None:
    """The naive wall-clock time of `moment` in `zone` (what a datetime-local input shows)."""
    if moment is None:
        return None
    return moment.astimezone(ZoneInfo(zone)).replace(tzinfo=None)


def shift_one_year(moment: datetime | None, zone: str) -> datetime | None:
    """The same wall-clock time one year later in `zone` (29 February becomes the 28th)."""
    if moment is None:
        return None
    local = utc_to_local(moment, zone)
    assert local is not None  # moment is not None
    try:
        later = local.replace(year=local.year + 1)
    except ValueError:
        later = local.replace(year=local.year + 1, day=28)
    return local_to_utc(later, zone)[0]
