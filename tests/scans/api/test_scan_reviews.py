"""GET|POST /api/v1/scans/{id}/reviews/ (reviewers only) and the scan's `final_result`."""

import pytest

from audit.models import AuditEvent
from scans.models import Review
from tests.conftest import token_client
from tests.factories import PatientFactory, PredictionFactory, ReviewFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def scan(team, owner):
    return PredictionFactory(scan__patient=PatientFactory(team=team, created_by=owner), label="meningioma").scan


@pytest.fixture
def reviewer_api(staff_reviewer):
    return token_client(staff_reviewer)


def reviews(scan):
    return f"/api/v1/scans/{scan.pk}/reviews/"


def test_a_reviewer_corrects_a_scan_and_the_scan_shows_the_final_result(reviewer_api, owner_api, scan):
    response = reviewer_api.post(
        reviews(scan), {"verdict": "corrected", "corrected_label": "glioma", "notes": "Infiltrative."}, format="json"
    )
    assert response.status_code == 201
    body = response.json()
    assert (body["verdict"], body["corrected_label"], body["reviewer"]) == ("corrected", "glioma", "reviewer")
    final = owner_api.get(f"/api/v1/scans/{scan.pk}/").json()["final_result"]
    assert final["source"] == "review"
    assert (final["verdict"], final["label"], final["model_label"]) == ("corrected", "glioma", "meningioma")
    assert (final["model_outcome"], final["changed"], final["reviewed_by"]) == ("classified", True, "reviewer")
    assert final["reviewed_at"] == body["created_at"]
    assert AuditEvent.objects.filter(action="review", object_type="scan", object_id=str(scan.pk)).exists()


def test_without_a_review_the_final_result_is_the_models(owner_api, scan):
    final = owner_api.get(f"/api/v1/scans/{scan.pk}/").json()["final_result"]
    assert final == {
        "source": "model",
        "verdict": "classified",
        "label": "meningioma",
        "model_outcome": "classified",
        "model_label": "meningioma",
        "reviewed_by": None,
        "reviewed_at": None,
        "changed": False,
    }


def test_a_refused_scan_has_no_label_in_its_final_result(owner_api, team, owner):
    scan = PredictionFactory(scan__patient=PatientFactory(team=team, created_by=owner), refused=True).scan
    final = owner_api.get(f"/api/v1/scans/{scan.pk}/").json()["final_result"]
    assert (final["verdict"], final["label"], final["model_label"]) == ("refused", None, None)


def test_the_reviews_are_listed_newest_first(reviewer_api, scan, staff_reviewer):
    ReviewFactory(scan=scan, reviewer=staff_reviewer, verdict="agree")
    ReviewFactory(scan=scan, reviewer=staff_reviewer, verdict="non_diagnostic", notes="Motion.")
    body = reviewer_api.get(reviews(scan)).json()
    assert [r["verdict"] for r in body["results"]] == ["non_diagnostic", "agree"]


@pytest.mark.parametrize(
    ("given", "field"),
    [
        ({"verdict": "corrected"}, "corrected_label"),
        ({"verdict": "agree", "corrected_label": "glioma"}, "corrected_label"),
        ({"verdict": "other_pathology"}, "notes"),
        ({"verdict": "maybe"}, "verdict"),
        ({"verdict": "corrected", "corrected_label": "Glioma"}, "corrected_label"),
    ],
)
def test_an_invalid_review_is_a_400_naming_the_field(reviewer_api, scan, given, field):
    response = reviewer_api.post(reviews(scan), given, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert not Review.objects.exists()


@pytest.mark.parametrize("person", ["owner", "teammate"])
def test_clinicians_of_the_team_get_a_403(request, scan, person):
    client = token_client(request.getfixturevalue(person))
    assert client.get(reviews(scan)).status_code == 403
    assert client.post(reviews(scan), {"verdict": "agree"}, format="json").status_code == 403
    assert not Review.objects.exists()


def test_another_teams_scan_is_a_404_even_for_a_reviewer(scan, other_team):
    from accounts.models import User
    from tests.factories import UserFactory

    stranger = UserFactory(username="stranger-reviewer", role=User.Role.REVIEWER, is_staff=True, teams=[other_team])
    client = token_client(stranger)
    assert client.get(reviews(scan)).status_code == 404
    assert client.post(reviews(scan), {"verdict": "agree"}, format="json").status_code == 404


def test_anonymous_callers_are_refused(api_client, scan):
    assert api_client.get(reviews(scan)).status_code in (401, 403)


def test_the_schema_documents_the_reviews_endpoint_and_the_final_result(owner_api):
    schema = owner_api.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    assert "/api/v1/scans/{scan_id}/reviews/" in schema["paths"]
    assert "final_result" in schema["components"]["schemas"]["ScanOutput"]["properties"]
