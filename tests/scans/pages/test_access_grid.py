"""Every page × the owner / teammate / staff reviewer / other team / outside superuser /
anonymous grid. Another team's patient or scan is a 404, exactly like a missing one; lists
never show it; an anonymous visitor is sent to the login page."""

import pytest
from django.test import Client

from scans.models import Scan
from tests.factories import PatientFactory, PredictionFactory

pytestmark = pytest.mark.django_db

SEES = {"owner": True, "teammate": True, "staff_reviewer": True, "outsider": False, "outside_superuser": False}

OBJECT_PAGES = [
    "/patients/{patient}/",
    "/patients/{patient}/edit/",
    "/scans/{scan}/",
    "/scans/{scan}/result/",
]
LIST_PAGES = [
    "/",
    "/patients/",
    "/patients/new/",
    "/scans/",
    "/scans/?patient={patient}",
    "/upload/",
    "/models/custom_cnn/",
]


@pytest.fixture
def case(team, owner, fake_weights):
    patient = PatientFactory(team=team, created_by=owner, display_name="Grid Patient", medical_record_number="GRID-1")
    prediction = PredictionFactory(scan__patient=patient, scan__uploaded_by=owner)
    return {"patient": patient.pk, "scan": prediction.scan_id}


def _client(request, person: str) -> Client:
    client = Client()
    client.force_login(request.getfixturevalue(person))
    return client


@pytest.mark.parametrize("person", list(SEES))
@pytest.mark.parametrize("page", OBJECT_PAGES)
def test_object_pages_are_seen_by_the_team_only(request, case, person, page):
    response = _client(request, person).get(page.format(**case))
    assert response.status_code == (200 if SEES[person] else 404)


@pytest.mark.parametrize("person", list(SEES))
@pytest.mark.parametrize("page", LIST_PAGES)
def test_list_pages_show_the_teams_patients_only(request, case, person, page):
    response = _client(request, person).get(page.format(**case))
    assert response.status_code == 200
    shown = "Grid Patient" in response.content.decode()
    if page in ("/", "/patients/", "/scans/", "/scans/?patient={patient}", "/upload/"):
        assert shown == SEES[person]
    else:
        assert not shown


@pytest.mark.parametrize("page", OBJECT_PAGES + LIST_PAGES + ["/scans/{scan}/review/"])
def test_anonymous_visitors_are_sent_to_log_in(client, case, page):
    response = client.get(page.format(**case))
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")


def test_a_missing_scan_looks_like_another_teams(client, owner, case):
    client.force_login(owner)
    assert client.get(f"/scans/{Scan.objects.latest('pk').pk + 1}/").status_code == 404


@pytest.mark.parametrize("person", ["outsider", "outside_superuser"])
def test_other_teams_cannot_review_or_edit(request, case, person):
    client = _client(request, person)
    assert client.post(f"/scans/{case['scan']}/review/", {"verdict": "agree"}).status_code == 404
    edit = client.post(f"/patients/{case['patient']}/edit/", {"medical_record_number": "X", "display_name": "Y"})
    assert edit.status_code == 404
