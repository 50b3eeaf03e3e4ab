"""What each CSV export holds: the scan list with the page's filters, or one patient's history."""

from collections.abc import Iterator
from dataclasses import dataclass

from django.db.models import QuerySet
from django.http import QueryDict, StreamingHttpResponse
from django.utils import timezone

from accounts.models import User
from scans import selectors
from scans.forms import ScanFilterForm
from scans.models import Patient, Scan
from scans.reports.csv_export import columns, csv_lines, scan_rows


@dataclass(frozen=True)
class Export:
    scans: QuerySet[Scan]
    filename: str
    deidentified: bool

    def patient_ids(self) -> list[int]:
        return list(self.scans.order_by().values_list("patient_id", flat=True).distinct())

    def response(self) -> StreamingHttpResponse:
        lines: Iterator[str] = csv_lines(
            scan_rows(self.scans, deidentified=self.deidentified), header=columns(deidentified=self.deidentified)
        )
        response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{self.filename}"'
        return response


def wants_deidentified(query: QueryDict) -> bool:
    return query.get("deidentified", "").lower() in ("1", "true", "yes", "on")


def scan_list_export(*, user: User, query: QueryDict) -> Export | ScanFilterForm:
    """The scan list as the page filters it; the form with its errors when a filter is invalid
    (an export must never quietly widen to every scan)."""
    patients = selectors.patients_visible_to(user)
    filters = ScanFilterForm(query, patients=patients)
    if not filters.is_valid():
        return filters
    scans = selectors.scans_search(user=user, **filters.search_arguments())
    deidentified = wants_deidentified(query)
    return Export(scans=scans, filename=_filename("scans", deidentified), deidentified=deidentified)


def patient_export(*, patient: Patient, query: QueryDict) -> Export:
    deidentified = wants_deidentified(query)
    scans = selectors.patient_timeline(patient=patient)
    # A de-identified file names no patient id, not even in its name.
    what = "patient-history" if deidentified else f"patient-{patient.pk}"
    return Export(scans=scans, filename=_filename(what, deidentified), deidentified=deidentified)


def _filename(what: str, deidentified: bool) -> str:
    suffix = "-deidentified" if deidentified else ""
    return f"{what}{suffix}-{timezone.now():%Y%m%d-%H%M}.csv"
