"""The one final result of a scan: the latest review's verdict when there is one, else the
model's outcome — the same in SQL (filters, counts) and in Python (pages, API)."""

import pytest

from scans.final_result import final_result_of, with_final_result
from scans.models import Scan
from tests.factories import PatientFactory, PredictionFactory, ReviewFactory, ScanFactory

pytestmark = pytest.mark.django_db


def _result(scan):
    return final_result_of(with_final_result(Scan.objects.filter(pk=scan.pk)).get())


@pytest.fixture
def patient(team):
    return PatientFactory(team=team)


def test_without_a_review_it_is_the_models_class_with_its_certainty(patient):
    scan = PredictionFactory(scan__patient=patient, label="glioma", confidence=0.93).scan
    result = _result(scan)
    assert (result.source, result.key, result.label, result.verdict) == ("model", "glioma", "glioma", "classified")
    assert (result.confidence, result.changed, result.reviewed_by) == (0.93, False, None)


@pytest.mark.parametrize("trait", ["refused", "uncertain"])
def test_a_refusal_or_abstention_is_no_class(patient, trait):
    result = _result(PredictionFactory(scan__patient=patient, **{trait: True}).scan)
    assert (result.key, result.label, result.model_label, result.confidence) == (trait, None, None, None)


def test_two_models_that_disagree_make_it_uncertain(patient):
    scan = PredictionFactory(scan__patient=patient, label="glioma").scan
    PredictionFactory(scan=scan, model_name="xception", label="meningioma")
    assert _result(scan).key == "uncertain"


def test_the_latest_review_wins_and_says_what_the_model_said(patient, staff_reviewer):
    scan = PredictionFactory(scan__patient=patient, label="meningioma", confidence=0.99).scan
    ReviewFactory(scan=scan, reviewer=staff_reviewer, verdict="agree")
    ReviewFactory(scan=scan, reviewer=staff_reviewer, verdict="corrected", corrected_label="glioma")
    result = _result(scan)
    assert (result.source, result.verdict, result.key, result.label) == ("review", "corrected", "glioma", "glioma")
    assert (result.model_key, result.changed, result.reviewed_by) == ("meningioma", True, "reviewer")
    # The model's certainty was about another class: it is not shown as the result's.
    assert result.confidence is None


def test_agreeing_keeps_the_models_class_and_certainty(patient, staff_reviewer):
    scan = PredictionFactory(scan__patient=patient, label="pituitary", confidence=0.8).scan
    ReviewFactory(scan=scan, reviewer=staff_reviewer, verdict="agree")
    result = _result(scan)
    assert (result.key, result.confidence, result.changed) == ("pituitary", 0.8, False)


def test_confirming_a_refusal_is_no_disagreement(patient, staff_reviewer):
    scan = PredictionFactory(scan__patient=patient, refused=True).scan
    ReviewFactory(scan=scan, reviewer=staff_reviewer, verdict="not_brain_mri")
    result = _result(scan)
    assert (result.key, result.changed, result.model_key) == ("not_brain_mri", False, "refused")


def test_a_scan_without_prediction_or_review_has_none_yet(patient):
    assert _result(ScanFactory(patient=patient, status=Scan.Status.QUEUED)) is None


def test_an_unannotated_scan_is_a_programming_error(patient):
    with pytest.raises(TypeError, match="with_final_result"):
        final_result_of(ScanFactory(patient=patient))
