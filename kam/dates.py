"""Plausible bounds of the business dates, as validators of the model fields.

Every entry path validates through the models (the services' `full_clean`, the API serializers
built from the model fields, the admin's model forms), so a bound set here gives the same
field-level message everywhere. Validators rather than database constraints: "today" moves,
and a row saved before these rules still loads; it is refused only when it is saved again.
"""

import datetime as dt

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.deconstruct import deconstructible

EARLIEST_DATE = dt.date(1900, 1, 1)
# How far ahead a planned date (expected close, due date, plan end) may be.
MAX_YEARS_AHEAD = 50
# An interaction logged "now" on a client whose clock runs ahead is not in the future.
CLOCK_SKEW = dt.timedelta(hours=1)

TOO_EARLY_MESSAGE = f"Enter a date on or after {EARLIEST_DATE.isoformat()}."


def latest_planned_date(today: dt.date | None = None) -> dt.date:
    """`MAX_YEARS_AHEAD` years after today (28 February for a 29 February)."""
    today = today or timezone.localdate()
    year = today.year + MAX_YEARS_AHEAD
    try:
        return today.replace(year=year)
    except ValueError:
        return today.replace(year=year, day=28)


def _is_too_early(value: dt.date | dt.datetime) -> bool:
    if isinstance(value, dt.datetime):
        # Compared as aware times, without converting `value`: year 1 in a zone west of UTC
        # cannot be converted.
        earliest = dt.datetime.combine(EARLIEST_DATE, dt.time())
        if timezone.is_aware(value):
            earliest = timezone.make_aware(earliest)
        return value < earliest
    return value < EARLIEST_DATE


class _DateValidator:
    """Deconstructible (the migrations name it) and equal by what it deconstructs to, so that
    `makemigrations` sees no change between two loads of the models."""

    code = "date_out_of_range"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _DateValidator) and self.deconstruct() == other.deconstruct()


@deconstructible(path="kam.dates.EarliestDateValidator")
class EarliestDateValidator(_DateValidator):
    """No date before `EARLIEST_DATE`: a business date is never older than that."""

    def __call__(self, value: dt.date | dt.datetime | None) -> None:
        if value is not None and _is_too_early(value):
            raise ValidationError(TOO_EARLY_MESSAGE, code=self.code)


@deconstructible(path="kam.dates.HappenedValidator")
class HappenedValidator(_DateValidator):
    """A date (or time) that has already happened: from `EARLIEST_DATE` to today (a time: to
    now plus `CLOCK_SKEW`)."""

    def __init__(self, message: str = "This date cannot be in the future.") -> None:
        self.message = message

    def __call__(self, value: dt.date | dt.datetime | None) -> None:
        if value is None:
            return
        if _is_too_early(value):
            raise ValidationError(TOO_EARLY_MESSAGE, code=self.code)
        if isinstance(value, dt.datetime):
            now = timezone.now()
            if timezone.is_naive(value):  # read in the current time zone, as Django saves it
                now = timezone.make_naive(now)
            future = value > now + CLOCK_SKEW
        else:
            future = value > timezone.localdate()
        if future:
            raise ValidationError(self.message, code=self.code)


@deconstructible(path="kam.dates.PlannedValidator")
class PlannedValidator(_DateValidator):
    """A planned date: from `EARLIEST_DATE` to `MAX_YEARS_AHEAD` years from today (a past one
    is fine: a plan or a deal can be late)."""

    def __call__(self, value: dt.date | None) -> None:
        if value is None:
            return
        if _is_too_early(value):
            raise ValidationError(TOO_EARLY_MESSAGE, code=self.code)
        latest = latest_planned_date()
        if value > latest:
            raise ValidationError(
                f"Enter a date at most {MAX_YEARS_AHEAD} years ahead (on or before "
                f"{latest.isoformat()}).",
                code=self.code,
            )
