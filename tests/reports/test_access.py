"""Reports and exports follow the one visibility rule: another team's scan or patient is a
404 for every URL, pages and API alike, and their data never appears in a list export."""

import pytest

from scans.models import Scan
from scans.reports.tasks import render_report
from tests.conftest import session_client, token_client
from tests.factories import PatientFactory, PredictionFactory, ScanFactory
from tests.reports.helpers import pdf_text

pytestmark = pytest.mark.django_db

URLS = (
    "/scans/{scan}/report.pdf",
    "/patients/{patient}/report.pdf",
    "/patients/{patient}/export.csv",
    "/api/v1/scans/{scan}/report.pdf",
    "/api/v1/patients/{patient}/report.pdf",
    "/api/v1/patients/{patient}/export.csv",
)


@pytest.fixture
def theirs(other_team, outsider):
    patient = PatientFactory(
        team=other_team, created_by=outsider, display_name="Other Team Patient", medical_record_number="MRN-OTHER"
    )
    scan = ScanFactory(patient=patient, status=Scan.Status.DONE)
    PredictionFactory(scan=scan)
    return scan


@pytest.mark.parametrize("url", URLS)
def test_another_teams_report_or_export_is_a_404(url, theirs, owner, outside_superuser):
    address = url.format(scan=theirs.pk, patient=theirs.patient_id)
    client = token_client(owner) if address.startswith("/api/") else session_client(owner)

    assert client.get(address).status_code == 404


@pytest.mark.parametrize("url", URLS)
def test_a_superuser_of_another_team_gets_a_404_too(url, team, owner, outside_superuser):
    scan = ScanFactory(patient=PatientFactory(team=team, created_by=owner), status=Scan.Status.DONE)
    address = url.format(scan=scan.pk, patient=scan.patient_id)

    assert session_client(outside_superuser).get(address).status_code == 404


@pytest.mark.parametrize("url", ["/scans/{scan}/report.pdf", "/patients/{patient}/export.csv", "/scans/export.csv"])
def test_anonymous_visitors_are_sent_to_log_in(url, client, theirs):
    response = client.get(url.format(scan=theirs.pk, patient=theirs.patient_id))

    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


@pytest.mark.parametrize("url", ["/api/v1/scans/{scan}/report.pdf", "/api/v1/scans/export.csv"])
def test_the_api_without_a_token_is_a_401(url, api_client, theirs):
    assert api_client.get(url.format(scan=theirs.pk, patient=theirs.patient_id)).status_code == 401


def test_a_list_export_holds_no_other_teams_data(theirs, team, owner):
    PredictionFactory(scan=ScanFactory(patient=PatientFactory(team=team, created_by=owner), status=Scan.Status.DONE))

    body = b"".join(session_client(owner).get("/scans/export.csv").streaming_content)

    assert b"MRN-OTHER" not in body and b"Other Team Patient" not in body
    assert body.count(b"\r\n") == 2  # the header and our one row


def test_a_teammate_reads_the_team_patients_report_with_no_other_teams_data(theirs, team, owner, teammate, monkeypatch):
    patient = PatientFactory(team=team, created_by=owner, display_name="Our Patient")
    PredictionFactory(scan=ScanFactory(patient=patient, status=Scan.Status.DONE))
    monkeypatch.setattr(render_report, "delay", lambda *args: render_report(*args))

    response = session_client(teammate).get(f"/patients/{patient.pk}/report.pdf")

    text = pdf_text(b"".join(response.streaming_content))
    assert "Our Patient" in text
    assert "Other Team Patient" not in text and "MRN-OTHER" not in text
