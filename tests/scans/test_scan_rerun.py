import pytest
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage

from accounts.models import User
from scans import tasks
from scans.models import Explanation, Scan
from scans.services import scan_rerun
from tests.factories import PredictionFactory, ScanFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def reviewer(db):
    return UserFactory(username="rerun-reviewer", role=User.Role.REVIEWER, is_staff=True)


@pytest.fixture
def queued(monkeypatch):
    sent = []
    monkeypatch.setattr(tasks, "enqueue_classification", sent.append)
    return sent


def test_it_clears_the_results_and_queues_the_scan_again(queued, reviewer, django_capture_on_commit_callbacks):
    prediction = PredictionFactory(scan__attempts=2)
    scan = prediction.scan
    Explanation.objects.create(scan=scan, provider="offline", status="done")
    with django_capture_on_commit_callbacks(execute=True):
        scan_rerun(scan=scan, requested_by=reviewer)
    scan.refresh_from_db()
    assert (scan.status, scan.attempts, scan.error) == (Scan.Status.QUEUED, 0, "")
    assert not scan.predictions.exists() and not Explanation.objects.filter(scan=scan).exists()
    assert not default_storage.exists(prediction.gradcam.name)
    assert queued == [scan.pk]


def test_a_failed_scan_can_be_rerun(queued, reviewer, django_capture_on_commit_callbacks):
    scan = ScanFactory(status=Scan.Status.FAILED, error="Classification took too long and was stopped.")
    with django_capture_on_commit_callbacks(execute=True):
        scan_rerun(scan=scan, requested_by=reviewer)
    scan.refresh_from_db()
    assert (scan.status, scan.error, queued) == (Scan.Status.QUEUED, "", [scan.pk])


@pytest.mark.parametrize("status", [Scan.Status.QUEUED, Scan.Status.PROCESSING, Scan.Status.CLASSIFIED])
def test_a_scan_in_progress_is_left_alone(queued, reviewer, status):
    scan = ScanFactory(status=status)
    with pytest.raises(ValidationError, match="Only a finished or failed scan"):
        scan_rerun(scan=scan, requested_by=reviewer)
    assert queued == []


def test_a_rolled_back_rerun_keeps_the_files(queued, reviewer):
    prediction = PredictionFactory()
    scan_rerun(scan=prediction.scan, requested_by=reviewer)  # on_commit never fires inside the test's transaction
    assert default_storage.exists(prediction.gradcam.name)
    assert queued == []


def test_only_a_staff_reviewer_may_rerun(queued):
    prediction = PredictionFactory()
    clinician = UserFactory(username="clinician", is_staff=True)
    with pytest.raises(ValidationError, match="Only staff reviewers"):
        scan_rerun(scan=prediction.scan, requested_by=clinician)
    assert prediction.scan.predictions.exists()


def test_a_rerun_supersedes_the_reviews_of_the_old_result(queued, reviewer, django_capture_on_commit_callbacks):
    from scans import selectors
    from scans.models import Review
    from tests.factories import ReviewFactory

    prediction = PredictionFactory()
    scan = prediction.scan
    review = ReviewFactory(scan=scan, reviewer=reviewer)
    with django_capture_on_commit_callbacks(execute=True):
        scan_rerun(scan=scan, requested_by=reviewer)

    # As if the new classification had finished: nobody has reviewed the new result.
    Scan.objects.filter(pk=scan.pk).update(status=Scan.Status.DONE)
    PredictionFactory(scan=scan)
    assert not scan.reviews.exists()
    assert Review.all_objects.get(pk=review.pk).superseded_at is not None
    listed = selectors.scans_with_list_data(Scan.objects.filter(pk=scan.pk)).get()
    assert listed.is_reviewed is False
