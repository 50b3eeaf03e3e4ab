"""The series view's reads: an exam's slices in the order they lie, and what they add up to."""

import pytest

from scans.dicom.exams import exam_slices, exam_summary
from scans.models import Exam
from tests.factories import PatientFactory, PredictionFactory, ScanFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def exam(team, owner):
    patient = PatientFactory(team=team, created_by=owner)
    return Exam.objects.create(patient=patient, uploaded_by=owner, series_key="k", modality="MR")


def slice_(exam, position, instance, **prediction):
    scan = ScanFactory(
        patient=exam.patient, exam=exam, dicom={"slice_position_mm": position, "instance_number": instance}
    )
    if prediction:
        PredictionFactory(scan=scan, **prediction)
    return scan


def test_slices_come_in_the_order_they_lie_not_the_order_they_were_numbered(exam):
    top, middle, bottom = slice_(exam, 10.0, 1), slice_(exam, 5.0, 2), slice_(exam, -5.0, 3)
    assert exam_slices(exam=exam) == [bottom, middle, top]


def test_the_summary_counts_results_and_puts_the_most_suspicious_slice_first(exam):
    clear = slice_(exam, 0.0, 1, label="notumor", confidence=0.95)
    likely = slice_(exam, 5.0, 2, label="glioma", confidence=0.9)
    possible = slice_(exam, 10.0, 3, label="meningioma", confidence=0.6)
    refused = slice_(exam, 15.0, 4, refused=True)
    waiting = slice_(exam, 20.0, 5)
    summary = exam_summary(exam=exam)
    assert summary.by_result == {"notumor": 1, "glioma": 1, "meningioma": 1, "refused": 1}
    assert summary.pending == 1
    assert summary.most_suspicious[:2] == [likely, possible]
    assert set(summary.most_suspicious[2:]) == {clear, refused}
    assert waiting not in summary.most_suspicious
