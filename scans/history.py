"""The rows of a patient's case history: a PNG or JPEG scan is one row; the slices of one
DICOM series (an Exam) are one row together, with what they add up to.

The page is cut from a light list of ids (one query), so a 300-slice series takes one row of
the page, not six pages; only the rows on the page are then loaded, with their results.
"""

from dataclasses import dataclass

from django.core.paginator import Page, Paginator

from scans.dicom.exams import ExamSummary, exam_summaries
from scans.models import Exam, Patient, Scan
from scans.selectors import scans_with_list_data


@dataclass(frozen=True)
class ExamRow:
    """One series in the case history. `summary` tells the template it is not a scan."""

    summary: ExamSummary

    @property
    def exam(self) -> Exam:
        return self.summary.exam

    @property
    def shown(self) -> Scan | None:
        """The slice the row shows: the most suspicious one, else (nothing finished yet) the first."""
        if self.summary.most_suspicious:
            return self.summary.most_suspicious[0]
        return self.summary.slices[0] if self.summary.slices else None

    @property
    def acquisition_date(self):
        return next((scan.acquisition_date for scan in self.summary.slices if scan.acquisition_date), None)

    @property
    def failed(self) -> int:
        return sum(1 for scan in self.summary.slices if scan.status == Scan.Status.FAILED)


def patient_history_page(*, patient: Patient, number: str | int | None, size: int) -> Page:
    """One page of the case history, newest first; a series sits where its newest slice does."""
    rows: list[tuple[str, int]] = []
    seen_exams: set[int] = set()
    for scan_id, exam_id in patient.scans.order_by("-created_at", "-pk").values_list("pk", "exam_id"):
        if exam_id is None:
            rows.append(("scan", scan_id))
        elif exam_id not in seen_exams:
            seen_exams.add(exam_id)
            rows.append(("exam", exam_id))
    page = Paginator(rows, size).get_page(number)
    scan_ids = [pk for kind, pk in page.object_list if kind == "scan"]
    scans = {scan.pk: scan for scan in scans_with_list_data(Scan.objects.filter(pk__in=scan_ids))} if scan_ids else {}
    summaries = exam_summaries(exam_ids=[pk for kind, pk in page.object_list if kind == "exam"])
    page.object_list = [
        scans[pk] if kind == "scan" else ExamRow(summaries[pk])
        for kind, pk in page.object_list
        if (scans if kind == "scan" else summaries).get(pk) is not None
    ]
    return page
