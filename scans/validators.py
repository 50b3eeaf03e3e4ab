"""Field checks shared by the upload form and the API."""

from datetime import date

from django.core.exceptions import ValidationError
from django.utils import timezone


def not_in_the_future(value: date | None) -> None:
    """An acquisition date after today is a typo (a year, a day and month swapped)."""
    if value is not None and value > timezone.localdate():
        raise ValidationError("The acquisition date is in the future: check the year and the day.")
