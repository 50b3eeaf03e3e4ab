"""Reads for the series view: an exam's slices in order, and what they add up to.

The slices of a series are ordered as they lie in the head (scans.dicom.submit.series_order);
the summary counts the slices per final result and puts the most suspicious first: a final
tumour class before anything else, then the highest tumour probability any model gave.
"""

from collections import Counter, defaultdict
from collections.abc import Iterable
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
    return _in_series_order(_with_results(exam.scans.all()))


def exam_summary(*, exam: Exam) -> ExamSummary:
    return _summarise(exam, exam_slices(exam=exam))


def exam_summaries(*, exam_ids: Iterable[int]) -> dict[int, ExamSummary]:
    """The summaries of several exams (a page of the case history) in a fixed number of
    queries, however many exams and slices."""
    ids = list(exam_ids)
    if not ids:
        return {}
    exams = Exam.objects.in_bulk(ids)
    slices: dict[int, list[Scan]] = defaultdict(list)
    for scan in _with_results(Scan.objects.filter(exam_id__in=ids)):
        slices[scan.exam_id].append(scan)
    return {pk: _summarise(exams[pk], _in_series_order(slices[pk])) for pk in ids if pk in exams}


def _with_results(scans):
    return with_final_result(scans.prefetch_related(Prefetch("predictions", Prediction.objects.order_by("model_name"))))


def _in_series_order(scans: Iterable[Scan]) -> list[Scan]:
    ordered = sorted(scans, key=lambda scan: series_order(scan.dicom))
    for number, scan in enumerate(ordered, start=1):
        scan.series_index = number  # "slice 3 of 24", as the browser counts
    return ordered


def _summarise(exam: Exam, slices: list[Scan]) -> ExamSummary:
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
