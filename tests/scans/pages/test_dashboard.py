"""The dashboard: recent scans of my teams, counts by status and by final result, the review
box riskiest first, failed scans with their reason."""

import pytest

from scans.models import Review, Scan
from tests.factories import PatientFactory, PredictionFactory, ReviewFactory, ScanFactory
from tests.scans.pages.helpers import count_queries

pytestmark = pytest.mark.django_db


@pytest.fixture
def patient(team, owner):
    return PatientFactory(team=team, created_by=owner, display_name="Dash Patient")


def test_it_counts_by_status_and_final_result(client, owner, patient, staff_reviewer):
    PredictionFactory(scan__patient=patient, label="glioma")
    PredictionFactory(scan__patient=patient, label="pituitary")
    corrected = PredictionFactory(scan__patient=patient, label="meningioma").scan
    ReviewFactory(scan=corrected, reviewer=staff_reviewer, verdict="corrected", corrected_label="glioma")
    PredictionFactory(scan__patient=patient, refused=True)
    PredictionFactory(scan__patient=patient, uncertain=True)
    ScanFactory(patient=patient, status=Scan.Status.QUEUED)
    client.force_login(owner)
    response = client.get("/")
    dashboard = response.context["dashboard"]
    assert dashboard.by_status == {"queued": 1, "processing": 0, "classified": 0, "done": 5, "failed": 0}
    assert dashboard.by_result == {"glioma": 2, "pituitary": 1, "uncertain": 1, "refused": 1}
    assert dashboard.changed_by_review == 1
    body = response.content.decode()
    assert 'href="/scans/?result=glioma">2</a>' in body
    assert 'href="/scans/?reviewed=changed">1</a>' in body


def test_the_review_box_lists_unreviewed_scans_riskiest_first_and_failed_ones(client, owner, patient, staff_reviewer):
    sure = PredictionFactory(scan__patient=patient, label="notumor", confidence=0.99).scan
    refused = PredictionFactory(scan__patient=patient, refused=True).scan
    reviewed = PredictionFactory(scan__patient=patient).scan
    Review.objects.create(scan=reviewed, reviewer=staff_reviewer, verdict="agree")
    ScanFactory(patient=patient, status=Scan.Status.FAILED, error="Classification failed because of an internal error.")
    client.force_login(owner)
    response = client.get("/")
    dashboard = response.context["dashboard"]
    assert [s.pk for s in dashboard.queue] == [refused.pk, sure.pk]
    assert (dashboard.queue_counts.total, dashboard.queue_counts.refused) == (2, 1)
    assert "Classification failed because of an internal error." in response.content.decode()


def test_a_corrected_scan_reads_as_the_reviewers_result_with_what_the_model_said(
    client, owner, patient, staff_reviewer
):
    scan = PredictionFactory(scan__patient=patient, label="meningioma", confidence=0.999).scan
    ReviewFactory(scan=scan, reviewer=staff_reviewer, verdict="corrected", corrected_label="glioma")
    client.force_login(owner)
    body = client.get("/").content.decode()
    assert '<span class="label label-glioma">Glioma</span>' in body
    assert "model said Meningioma" in body
    assert "100.0 %" not in body and "99.9 %" not in body


def test_other_teams_scans_are_not_counted(client, outsider, patient):
    PredictionFactory(scan__patient=patient)
    client.force_login(outsider)
    dashboard = client.get("/").context["dashboard"]
    assert sum(dashboard.by_status.values()) == 0
    assert dashboard.recent == []


def test_the_query_count_does_not_grow_with_the_number_of_scans(client, owner, patient):
    client.force_login(owner)
    PredictionFactory.create_batch(2, scan__patient=patient)
    count_queries(client, "/")  # the first view writes the audit trail's "listed" events
    few = count_queries(client, "/")
    PredictionFactory.create_batch(20, scan__patient=patient)
    assert count_queries(client, "/") == few
