"""scan_review: the five verdicts, who may give them, and reviews that supersede but never
replace one another."""

import pytest
from django.core.exceptions import ValidationError

from scans.models import Review, Scan
from scans.services import scan_review
from tests.factories import PatientFactory, PredictionFactory, ScanFactory


@pytest.fixture
def scan(team):
    return PredictionFactory(scan__patient=PatientFactory(team=team), label="meningioma").scan


def test_a_staff_reviewer_records_agreement(scan, staff_reviewer):
    review = scan_review(scan=scan, reviewer=staff_reviewer, verdict="agree", notes="Clear case.")
    assert (review.verdict, review.corrected_label, review.notes) == ("agree", "", "Clear case.")


def test_a_staff_reviewer_corrects_the_class(scan, staff_reviewer):
    review = scan_review(scan=scan, reviewer=staff_reviewer, verdict="corrected", corrected_label="pituitary")
    assert (review.verdict, review.corrected_label) == ("corrected", "pituitary")


@pytest.mark.parametrize("verdict", ["not_brain_mri", "non_diagnostic"])
def test_a_reviewer_can_say_the_image_is_no_use(scan, staff_reviewer, verdict):
    assert scan_review(scan=scan, reviewer=staff_reviewer, verdict=verdict).verdict == verdict


def test_other_pathology_needs_the_reviewers_words(scan, staff_reviewer):
    with pytest.raises(ValidationError) as error:
        scan_review(scan=scan, reviewer=staff_reviewer, verdict="other_pathology", notes="  ")
    assert "notes" in error.value.message_dict
    review = scan_review(scan=scan, reviewer=staff_reviewer, verdict="other_pathology", notes="Cavernoma.")
    assert review.notes == "Cavernoma."


def test_a_clinician_cannot_review(scan, owner):
    with pytest.raises(ValidationError, match="Only staff reviewers"):
        scan_review(scan=scan, reviewer=owner, verdict="agree")


def test_correcting_needs_a_class(scan, staff_reviewer):
    with pytest.raises(ValidationError) as error:
        scan_review(scan=scan, reviewer=staff_reviewer, verdict="corrected")
    assert "corrected_label" in error.value.message_dict


def test_a_class_is_refused_with_any_other_verdict(scan, staff_reviewer):
    with pytest.raises(ValidationError) as error:
        scan_review(scan=scan, reviewer=staff_reviewer, verdict="agree", corrected_label="glioma")
    assert "corrected_label" in error.value.message_dict


def test_correcting_to_the_models_own_class_is_agreeing(scan, staff_reviewer):
    with pytest.raises(ValidationError, match="Agree"):
        scan_review(scan=scan, reviewer=staff_reviewer, verdict="corrected", corrected_label="meningioma")


def test_an_unknown_label_or_verdict_is_refused(scan, staff_reviewer):
    with pytest.raises(ValidationError):
        scan_review(scan=scan, reviewer=staff_reviewer, verdict="corrected", corrected_label="Glioma")
    with pytest.raises(ValidationError) as error:
        scan_review(scan=scan, reviewer=staff_reviewer, verdict="disagree")
    assert "verdict" in error.value.message_dict


@pytest.mark.parametrize("trait", ["refused", "uncertain"])
def test_agreeing_cannot_turn_an_abstention_or_refusal_into_a_class(team, staff_reviewer, trait):
    scan = PredictionFactory(scan__patient=PatientFactory(team=team), **{trait: True}).scan
    with pytest.raises(ValidationError, match="no single confident class"):
        scan_review(scan=scan, reviewer=staff_reviewer, verdict="agree")
    review = scan_review(scan=scan, reviewer=staff_reviewer, verdict="corrected", corrected_label="notumor")
    assert review.corrected_label == "notumor"


def test_two_models_that_disagree_give_nothing_to_agree_with(scan, staff_reviewer):
    PredictionFactory(scan=scan, model_name="xception", label="glioma")
    with pytest.raises(ValidationError, match="no single confident class"):
        scan_review(scan=scan, reviewer=staff_reviewer, verdict="agree")


def test_a_new_review_supersedes_and_the_old_one_stays(scan, staff_reviewer):
    first = scan_review(scan=scan, reviewer=staff_reviewer, verdict="agree")
    second = scan_review(scan=scan, reviewer=staff_reviewer, verdict="corrected", corrected_label="glioma")
    assert list(Review.objects.filter(scan=scan).order_by("-created_at", "-pk")) == [second, first]


def test_an_unfinished_scan_cannot_be_reviewed(team, staff_reviewer):
    scan = ScanFactory(patient=PatientFactory(team=team), status=Scan.Status.CLASSIFIED)
    with pytest.raises(ValidationError, match="finished"):
        scan_review(scan=scan, reviewer=staff_reviewer, verdict="agree")
