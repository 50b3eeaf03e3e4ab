"""The dashboard: recent scans of my teams, counts by status and label, scans awaiting
review, failed scans with their reason."""

import pytest

from scans.models import Review, Scan
from tests.factories import PatientFactory, PredictionFactory, ScanFactory
from tests.scans.pages.helpers import count_queries

pytestmark = pytest.mark.django_db


@pytest.fixture
def patient(team, owner):
    return PatientFactory(team=team, created_by=owner, display_name="Dash Patient")


def test_it_counts_by_status_and_label(client, owner, patient):
    PredictionFactory(scan__patient=patient, label="glioma")
    PredictionFactory(scan__patient=patient, label="pituitary")
    ScanFactory(patient=patient, status=Scan.Status.QUEUED)
    client.force_login(owner)
    dashboard = client.get("/").context["dashboard"]
    assert dashboard.by_status == {"queued": 1, "processing": 0, "classified": 0, "done": 2, "failed": 0}
    assert dashboard.by_label == {"glioma": 1, "pituitary": 1}


def test_it_lists_scans_awaiting_review_and_failed_ones(client, owner, patient, staff_reviewer):
    waiting = PredictionFactory(scan__patient=patient).scan
    reviewed = PredictionFactory(scan__patient=patient).scan
    Review.objects.create(scan=reviewed, reviewer=staff_reviewer, agrees=True)
    ScanFactory(patient=patient, status=Scan.Status.FAILED, error="Classification failed because of an internal error.")
    client.force_login(owner)
    response = client.get("/")
    dashboard = response.context["dashboard"]
    assert [s.pk for s in dashboard.awaiting_review] == [waiting.pk]
    assert dashboard.awaiting_review_count == 1
    assert "Classification failed because of an internal error." in response.content.decode()


def test_other_teams_scans_are_not_counted(client, outsider, patient):
    PredictionFactory(scan__patient=patient)
    client.force_login(outsider)
    dashboard = client.get("/").context["dashboard"]
    assert sum(dashboard.by_status.values()) == 0
    assert dashboard.recent == []


def test_the_query_count_does_not_grow_with_the_number_of_scans(client, owner, patient):
    client.force_login(owner)
    PredictionFactory.create_batch(2, scan__patient=patient)
    few = count_queries(client, "/")
    PredictionFactory.create_batch(20, scan__patient=patient)
    assert count_queries(client, "/") == few
