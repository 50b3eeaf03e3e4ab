"""Reads for the series view: an exam's slices in order, and what they add up to.

The slices of a series are ordered as they lie in the head (scans.dicom.submit.series_order);
the summary counts the slices per final result and puts the most suspicious first: a final
tumour class before anything else, then the highest tumour probability any model gave.
"""

from collections import Counter
from dataclasses import dataclass

from django.db.models import Prefetch
from django.shortcuts import get_object_or_404

from accounts.models import User
from scans.dicom.submit import series_order
from scans.final_result import TUMOUR_CLASSES, final_result_of, with_final_result
from scans.models import Exam, Prediction, Scan
from scans.selectors import patients_visible_to


@dataclass(frozen=True)
class ExamSummary:
    exam: Exam
    slices: list[Scan]  # in series order, annotated with their final results
    by_result: dict[str, int]  # final result key → slices; slices without a result yet are not counted
    most_suspicious: list[Scan]  # the slices with a result, the most suspicious first

    @property
    def burned_in_text(self) -> int:
        """Slices whose file says text is burned into the pixels (it may show identifiers)."""
        return sum(1 for scan in self.slices if scan.dicom.get("burned_in_annotation"))

    @property
    def done(self) -> int:
        return sum(self.by_result.values())

    @property
    def pending(self) -> int:
        return len(self.slices) - self.done


def exam_get(*, user: User, exam_id: int) -> Exam:
    """The exam, or 404 when the user may not see its patient (the one visibility selector)."""
    return get_object_or_404(Exam.objects.select_related("patient"), pk=exam_id, patient__in=patients_visible_to(user))


def exam_slices(*, exam: Exam) -> list[Scan]:
    scans = with_final_result(
        exam.scans.prefetch_related(Prefetch("predictions", Prediction.objects.order_by("model_name")))
    )
    ordered = sorted(scans, key=lambda scan: series_order(scan.dicom))
    for number, scan in enumerate(ordered, start=1):
        scan.series_index = number  # "slice 3 of 24", as the browser counts
    return ordered


def exam_summary(*, exam: Exam) -> ExamSummary:
    slices = exam_slices(exam=exam)
    finished = [scan for scan in slices if final_result_of(scan) is not None]
    return ExamSummary(
        exam=exam,
        slices=slices,
        by_result=dict(Counter(scan.final_key for scan in finished).most_common()),
        most_suspicious=sorted(finished, key=_suspicion, reverse=True),
    )


def _suspicion(scan: Scan) -> tuple[bool, float]:
    tumour_probability = max(
        (1.0 - p.probabilities.get("notumor", 1.0) for p in scan.predictions.all() if p.probabilities), default=0.0
    )
    return scan.final_key in TUMOUR_CLASSES, tumour_probability
