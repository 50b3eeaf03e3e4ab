import pytest
from django.core.exceptions import ValidationError

from scans.models import Scan
from scans.services import scan_review
from tests.factories import PatientFactory, ScanFactory


@pytest.fixture
def scan(team):
    return ScanFactory(patient=PatientFactory(team=team), status=Scan.Status.DONE)


def test_a_staff_reviewer_records_agreement(scan, staff_reviewer):
    review = scan_review(scan=scan, reviewer=staff_reviewer, agrees=True, notes="Clear case.")
    assert (review.agrees, review.corrected_label) == (True, "")


def test_a_staff_reviewer_corrects_the_label(scan, staff_reviewer):
    review = scan_review(scan=scan, reviewer=staff_reviewer, agrees=False, corrected_label="pituitary")
    assert review.corrected_label == "pituitary"


def test_a_clinician_cannot_review(scan, owner):
    with pytest.raises(ValidationError, match="Only staff reviewers"):
        scan_review(scan=scan, reviewer=owner, agrees=True)


def test_disagreeing_needs_a_corrected_label(scan, staff_reviewer):
    with pytest.raises(ValidationError) as error:
        scan_review(scan=scan, reviewer=staff_reviewer, agrees=False)
    assert "corrected_label" in error.value.message_dict


def test_an_unknown_label_is_refused(scan, staff_reviewer):
    with pytest.raises(ValidationError):
        scan_review(scan=scan, reviewer=staff_reviewer, agrees=False, corrected_label="Glioma")


def test_an_unfinished_scan_cannot_be_reviewed(team, staff_reviewer):
    scan = ScanFactory(patient=PatientFactory(team=team))
    with pytest.raises(ValidationError, match="finished"):
        scan_review(scan=scan, reviewer=staff_reviewer, agrees=True)
