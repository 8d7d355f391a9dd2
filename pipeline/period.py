"""The reporting period: a calendar month named YYYY-MM."""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date

_PERIOD = re.compile(r"([0-9]{4})-([0-9]{2})")  # ASCII digits only; matched whole (no trailing newline)


class PeriodUnusable(ValueError):
    """A period that is not a month dpmon can reconcile."""


@dataclass(frozen=True)
class Period:
    label: str
    start: date
    end: date

    @classmethod
    def parse(cls, text: str, name: str = "the period") -> "Period":
        """``name`` is what the message calls it: ``--period`` on the command line, the flow's parameter otherwise."""
        found = _PERIOD.fullmatch(text or "")
        if not found or not 1 <= int(found.group(2)) <= 12:
            raise PeriodUnusable(f"{name} must be a month as YYYY-MM (e.g. 2025-06), got {text!r}")
        if not 1900 <= int(found.group(1)) <= 2999:
            raise PeriodUnusable(f"{name} must be a month from 1900-01 to 2999-12, got {text!r}")
        year, month = int(found.group(1)), int(found.group(2))
        return cls(text, date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1]))

    @classmethod
    def before(cls, day: date) -> "Period":
        """The calendar month before the one ``day`` falls in: what a monthly schedule reconciles."""
        first = date(day.year - (day.month == 1), 12 if day.month == 1 else day.month - 1, 1)
        return cls.parse(first.strftime("%Y-%m"))

    @property
    def previous_start(self) -> date:
        return date(self.start.year - (self.start.month == 1), 12 if self.start.month == 1 else self.start.month - 1, 1)
