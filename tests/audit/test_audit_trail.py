from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from audit import services as audit_services
from audit.models import AuditEvent
from audit.services import REPEAT_WINDOW
from scans.models import Scan
from tests.conftest import token_client
from tests.factories import PatientFactory, PredictionFactory
from tests.images import png_bytes


def _png() -> SimpleUploadedFile:
    return SimpleUploadedFile("scan.png", png_bytes(), content_type="image/png")


@pytest.fixture
def prediction(team, owner):
    return PredictionFactory(scan__patient=PatientFactory(team=team, created_by=owner))


def test_reading_a_scan_records_who_when_and_from_where(owner_api, owner, prediction):
    owner_api.get(f"/api/v1/scans/{prediction.scan_id}/", REMOTE_ADDR="10.1.2.3")
    event = AuditEvent.objects.get()
    assert (event.actor, event.action, event.object_type, event.object_id, event.ip_address) == (
        owner,
        "view",
        "scan",
        str(prediction.scan_id),
        "10.1.2.3",
    )


def test_polling_records_one_view_per_minute_not_one_per_request(owner_api, prediction):
    for _ in range(5):
        owner_api.get(f"/api/v1/scans/{prediction.scan_id}/")
    assert AuditEvent.objects.count() == 1


def test_a_read_after_the_minute_is_recorded_again(owner_api, prediction, monkeypatch):
    owner_api.get(f"/api/v1/scans/{prediction.scan_id}/")
    owner_api.get(f"/api/v1/scans/{prediction.scan_id}/image/")  # within the minute: nothing new
    later = timezone.now() + REPEAT_WINDOW + timedelta(seconds=1)
    monkeypatch.setattr(audit_services.timezone, "now", lambda: later)

    owner_api.get(f"/api/v1/scans/{prediction.scan_id}/")
    owner_api.get(f"/api/v1/scans/{prediction.scan_id}/image/")

    assert AuditEvent.objects.filter(action="view").count() == 2
    assert AuditEvent.objects.filter(action="download").count() == 0  # the view just before covers it


def test_only_patient_data_names_a_patient(team, prediction):
    assert audit_services.patient_id_of(team) is None
    assert audit_services.patient_id_of(prediction.scan) == prediction.scan.patient_id
    assert audit_services.patient_id_of(prediction) == prediction.scan.patient_id


def test_downloading_an_image_is_recorded(owner_api, prediction):
    owner_api.get(f"/api/v1/scans/{prediction.scan_id}/image/")
    assert AuditEvent.objects.get().action == "download"


def test_creating_a_patient_is_recorded(owner_api, team):
    response = owner_api.post("/api/v1/patients/", {"medical_record_number": "M1", "display_name": "X Y"})
    event = AuditEvent.objects.get()
    assert (event.action, event.object_type, event.object_id) == ("create", "patient", str(response.json()["id"]))


def test_a_refused_read_is_not_recorded_as_a_view(prediction, outsider):
    token_client(outsider).get(f"/api/v1/scans/{prediction.scan_id}/")
    assert not AuditEvent.objects.exists()


def test_nobody_can_change_or_delete_an_event(owner_api, prediction):
    owner_api.get(f"/api/v1/scans/{prediction.scan_id}/")
    event = AuditEvent.objects.get()
    event.action = "create"
    with pytest.raises(PermissionError, match="cannot be changed"):
        event.save()
    with pytest.raises(PermissionError, match="cannot be deleted"):
        event.delete()
    with pytest.raises(PermissionError, match="cannot be changed"):
        AuditEvent.objects.update(action="create")
    with pytest.raises(PermissionError, match="cannot be deleted"):
        AuditEvent.objects.all().delete()


def test_uploading_a_scan_through_the_api_is_recorded(owner_api, team, owner, fake_weights):
    patient = PatientFactory(team=team, created_by=owner)
    response = owner_api.post(f"/api/v1/patients/{patient.pk}/scans/", {"image": _png()}, format="multipart")
    assert response.status_code == 202
    event = AuditEvent.objects.get()
    assert (event.actor, event.action, event.object_type, event.object_id) == (
        owner,
        "create",
        "scan",
        str(response.json()["id"]),
    )


def test_uploading_a_scan_through_the_page_is_recorded(client, team, owner, fake_weights):
    patient = PatientFactory(team=team, created_by=owner)
    client.force_login(owner)
    client.post("/upload/", {"patient": patient.pk, "model": "custom_cnn", "images": _png()})
    scan = Scan.objects.get()
    event = AuditEvent.objects.get(action="create")
    assert (event.actor, event.object_type, event.object_id) == (owner, "scan", str(scan.pk))


def test_reading_a_patients_scans_through_the_api_is_recorded(owner_api, owner, prediction):
    patient = prediction.scan.patient
    owner_api.get(f"/api/v1/patients/{patient.pk}/scans/")
    event = AuditEvent.objects.get()
    assert (event.actor, event.action, event.object_type, event.object_id) == (
        owner,
        "view",
        "patient",
        str(patient.pk),
    )
