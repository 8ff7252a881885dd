"""Backup, snapshot and maintenance windows: their formats, lengths and the overlap AWS rejects at deploy time."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator

_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_TIME = r"([01]\d|2[0-3]):([0-5]\d)"
_DAY = "(" + "|".join(_DAYS) + ")"
_DAILY = re.compile(rf"^{_TIME}-{_TIME}$")
_WEEKLY = re.compile(rf"^{_DAY}:{_TIME}-{_DAY}:{_TIME}$")
_DAY_MINUTES = 24 * 60
_WEEK_MINUTES = 7 * _DAY_MINUTES


def _daily(value: str) -> str:
    if not _DAILY.match(value):
        raise ValueError("must be a daily UTC window 'hh:mm-hh:mm' such as 02:00-03:00")
    return value


def _weekly(value: str) -> str:
    if not _WEEKLY.match(value):
        raise ValueError("must be a weekly UTC window 'ddd:hh:mm-ddd:hh:mm' such as sun:03:00-sun:04:00")
    return value


#: A daily UTC window ``hh:mm-hh:mm`` (backups, snapshots).
DailyWindow = Annotated[str, AfterValidator(_daily)]
#: A weekly UTC window ``ddd:hh:mm-ddd:hh:mm`` (maintenance).
WeeklyWindow = Annotated[str, AfterValidator(_weekly)]


def _span(start: int, end: int, period: int) -> tuple[int, int]:
    """(start, length) in minutes; a window may wrap past midnight or the end of the week."""
    return start, (end - start) % period or period


def _daily_span(window: str) -> tuple[int, int]:
    match = _DAILY.match(window)
    assert match, window
    start_h, start_m, end_h, end_m = (int(part) for part in match.groups())
    return _span(start_h * 60 + start_m, end_h * 60 + end_m, _DAY_MINUTES)


def _weekly_span(window: str) -> tuple[int, int]:
    match = _WEEKLY.match(window)
    assert match, window
    start_day, start_h, start_m, end_day, end_h, end_m = match.groups()
    start = _DAYS.index(start_day) * _DAY_MINUTES + int(start_h) * 60 + int(start_m)
    end = _DAYS.index(end_day) * _DAY_MINUTES + int(end_h) * 60 + int(end_m)
    return _span(start, end, _WEEK_MINUTES)


def daily_minutes(window: str) -> int:
    return _daily_span(window)[1]


def weekly_minutes(window: str) -> int:
    return _weekly_span(window)[1]


def overlaps(daily: str, weekly: str) -> bool:
    """Whether the daily window, on any day, overlaps the weekly one."""
    start, length = _daily_span(daily)
    weekly_start, weekly_length = _weekly_span(weekly)
    for day in range(7):
        day_start = day * _DAY_MINUTES + start
        if (weekly_start - day_start) % _WEEK_MINUTES < length or (day_start - weekly_start) % _WEEK_MINUTES < (
            weekly_length
        ):
            return True
    return False
