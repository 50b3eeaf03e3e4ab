"""Pages and lists that show patient data leave one event per page view: the patient list,
the scan list, the patient form (opened and saved), a regenerated explanation, the API's
patient list — and not one per thumbnail."""

from datetime import timedelta

import pytest
from django.utils import timezone

from audit import services as audit_services
from audit.models import AuditEvent
from audit.services import REPEAT_WINDOW
from tests.conftest import token_client
from tests.factories import PatientFactory, PredictionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def patients(team, owner):
    return [PatientFactory(team=team, created_by=owner) for _ in range(3)]


@pytest.fixture
def logged_in(client, owner):
    client.force_login(owner)
    return client


def _listed(owner):
    return sorted(AuditEvent.objects.filter(actor=owner, action="list").values_list("patient_id", flat=True))


def test_the_patient_list_records_each_patient_shown(logged_in, owner, patients):
    logged_in.get("/patients/")
    assert _listed(owner) == sorted(p.pk for p in patients)
    assert set(AuditEvent.objects.values_list("object_type", "object_id")) == {("patient", str(p.pk)) for p in patients}


def test_reloading_a_list_within_a_minute_adds_nothing(logged_in, owner, patients):
    # Earlier events, so that event ids and patient ids differ.
    for _ in range(5):
        AuditEvent.objects.create(actor=owner, action="create", object_type="team", object_id="0")
    logged_in.get("/patients/")
    logged_in.get("/patients/")
    assert AuditEvent.objects.filter(action="list").count() == len(patients)


def test_a_list_after_the_minute_is_recorded_again(logged_in, owner, patients, monkeypatch):
    logged_in.get("/patients/")
    later = timezone.now() + REPEAT_WINDOW + timedelta(seconds=1)
    monkeypatch.setattr(audit_services.timezone, "now", lambda: later)
    logged_in.get("/patients/")
    assert AuditEvent.objects.filter(action="list").count() == 2 * len(patients)


def test_another_persons_page_view_does_not_hide_my_download(client, owner, teammate, team):
    prediction = PredictionFactory(scan__patient=PatientFactory(team=team, created_by=owner))
    client.force_login(teammate)
    client.get(f"/patients/{prediction.scan.patient_id}/")
    token_client(owner).get(f"/api/v1/scans/{prediction.scan_id}/image/")
    assert AuditEvent.objects.filter(actor=owner, action="download").count() == 1


def test_viewing_two_scans_of_a_patient_records_both(logged_in, owner, team):
    patient = PatientFactory(team=team, created_by=owner)
    first, second = (PredictionFactory(scan__patient=patient).scan_id for _ in range(2))
    logged_in.get(f"/scans/{first}/")
    logged_in.get(f"/scans/{second}/")
    viewed = sorted(AuditEvent.objects.filter(action="view", object_type="scan").values_list("object_id", flat=True))
    assert viewed == sorted([str(first), str(second)])


def test_the_api_patient_list_records_each_patient_returned(owner, patients):
    token_client(owner).get("/api/v1/patients/")
    assert _listed(owner) == sorted(p.pk for p in patients)


def test_the_scan_list_records_the_patients_of_the_scans_shown(logged_in, owner, team):
    prediction = PredictionFactory(scan__patient=PatientFactory(team=team, created_by=owner))
    logged_in.get("/scans/")
    assert _listed(owner) == [prediction.scan.patient_id]


def test_opening_the_patient_form_is_a_view_and_saving_it_a_change(logged_in, owner, patients):
    patient = patients[0]
    logged_in.get(f"/patients/{patient.pk}/edit/")
    logged_in.post(
        f"/patients/{patient.pk}/edit/",
        {"medical_record_number": patient.medical_record_number, "display_name": "New Name", "notes": ""},
    )
    actions = list(AuditEvent.objects.filter(patient_id=patient.pk).order_by("pk").values_list("action", flat=True))
    assert actions == ["view", "change"]


def test_a_page_with_thumbnails_is_one_event_not_one_per_image(logged_in, owner, team):
    patient = PatientFactory(team=team, created_by=owner)
    predictions = [PredictionFactory(scan__patient=patient) for _ in range(3)]
    logged_in.get(f"/patients/{patient.pk}/")
    for prediction in predictions:
        logged_in.get(f"/api/v1/scans/{prediction.scan_id}/image/")
        logged_in.get(f"/api/v1/scans/{prediction.scan_id}/predictions/custom_cnn/gradcam/")
    assert list(AuditEvent.objects.values_list("action", "object_type")) == [("view", "patient")]


def test_a_download_with_no_page_view_before_it_is_recorded(owner, team):
    prediction = PredictionFactory(scan__patient=PatientFactory(team=team, created_by=owner))
    token_client(owner).get(f"/api/v1/scans/{prediction.scan_id}/image/")
    assert list(AuditEvent.objects.values_list("action", "patient_id")) == [("download", prediction.scan.patient_id)]


def test_regenerating_an_explanation_from_the_page_is_recorded(client, staff_reviewer, team, owner, monkeypatch):
    from scans import tasks

    monkeypatch.setattr(tasks, "enqueue_explanation", lambda scan_id: None)
    prediction = PredictionFactory(scan__patient=PatientFactory(team=team, created_by=owner))
    client.force_login(staff_reviewer)
    client.post(f"/scans/{prediction.scan_id}/explanation/regenerate/")
    assert AuditEvent.objects.filter(action="regenerate", object_id=str(prediction.scan_id)).exists()


def test_the_dashboard_records_the_patients_of_the_scans_it_shows(logged_in, owner, team):
    prediction = PredictionFactory(scan__patient=PatientFactory(team=team, created_by=owner))
    logged_in.get("/")
    assert _listed(owner) == [prediction.scan.patient_id]


def test_the_review_queue_records_the_patients_it_shows(client, staff_reviewer, owner, team):
    prediction = PredictionFactory(scan__patient=PatientFactory(team=team, created_by=owner))
    client.force_login(staff_reviewer)
    assert client.get("/review/").status_code == 200
    assert _listed(staff_reviewer) == [prediction.scan.patient_id]
