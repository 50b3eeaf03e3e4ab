"""A client that repeats an upload with the same Idempotency-Key gets the first scan back."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from audit.models import AuditEvent
from scans.models import Scan
from tests.factories import PatientFactory, stored_files
from tests.images import png_bytes

pytestmark = pytest.mark.usefixtures("fake_weights")


@pytest.fixture
def patient(team, owner):
    return PatientFactory(team=team, created_by=owner)


def upload(client, patient, key: str | None = None):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key is not None else {}
    image = SimpleUploadedFile("scan.png", png_bytes(), content_type="image/png")
    return client.post(f"/api/v1/patients/{patient.pk}/scans/", {"image": image}, format="multipart", **headers)


def test_a_retry_with_the_same_key_returns_the_first_scan_and_makes_no_second(owner_api, patient):
    first = upload(owner_api, patient, key="9b2f6a51-upload-1")
    again = upload(owner_api, patient, key="9b2f6a51-upload-1")
    assert first.status_code == again.status_code == 202
    assert again.json()["id"] == first.json()["id"]
    assert again["Idempotent-Replayed"] == "true"
    assert Scan.objects.count() == 1
    assert len(stored_files()) == 1


def test_a_replay_is_not_audited_as_a_second_upload(owner_api, patient):
    upload(owner_api, patient, key="k-1")
    upload(owner_api, patient, key="k-1")
    assert AuditEvent.objects.filter(action=AuditEvent.Action.CREATE, object_type="scan").count() == 1


def test_different_keys_make_different_scans(owner_api, patient):
    upload(owner_api, patient, key="k-1")
    upload(owner_api, patient, key="k-2")
    assert Scan.objects.count() == 2


def test_without_a_key_every_request_makes_a_scan(owner_api, patient):
    upload(owner_api, patient)
    upload(owner_api, patient)
    assert Scan.objects.count() == 2


def test_a_key_belongs_to_its_user(owner_api, patient, team):
    from tests.conftest import token_client
    from tests.factories import UserFactory

    teammate_api = token_client(UserFactory(username="mate", teams=[team]))
    upload(owner_api, patient, key="shared")
    upload(teammate_api, patient, key="shared")
    assert Scan.objects.count() == 2


def test_a_key_reused_for_another_patient_is_refused(owner_api, patient, team, owner):
    upload(owner_api, patient, key="k-1")
    response = upload(owner_api, PatientFactory(team=team, created_by=owner), key="k-1")
    assert response.status_code == 400
    assert "another patient" in response.json()["idempotency_key"][0]


def test_a_malformed_key_is_refused(owner_api, patient):
    response = upload(owner_api, patient, key="has spaces in it")
    assert response.status_code == 400
    assert not Scan.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_two_requests_racing_with_one_key_make_one_scan(team, owner):
    import threading

    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.db import connection

    from idempotency.services import submit_once
    from scans.services import scan_submit

    if connection.vendor == "sqlite":
        pytest.skip("SQLite lets one writer in at a time: two uploads cannot race there")
    patient = PatientFactory(team=team, created_by=owner)
    barrier = threading.Barrier(2)
    results = []

    def request() -> None:
        try:

            def submit():
                scan = scan_submit(patient=patient, uploaded_by=owner, file=SimpleUploadedFile("a.png", png_bytes()))
                barrier.wait(timeout=5)  # both have a scan of their own before either keeps the key
                return scan

            results.append(submit_once(user=owner, key="same", patient=patient, submit=submit)[0].pk)
        finally:
            connection.close()

    threads = [threading.Thread(target=request) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(results) == 2 and results[0] == results[1]
    assert Scan.objects.count() == 1
    assert len(stored_files()) == 1


def test_a_key_that_cannot_be_stored_leaves_no_scan_and_no_file(team, owner, monkeypatch):
    from django.db import OperationalError

    from idempotency import services
    from scans.services import scan_submit

    def database_gone(**kwargs):
        raise OperationalError("the database system is shutting down")

    monkeypatch.setattr(services.IdempotencyKey.objects, "create", database_gone)
    patient = PatientFactory(team=team, created_by=owner)
    image = SimpleUploadedFile("a.png", png_bytes())
    with pytest.raises(OperationalError):
        services.submit_once(
            user=owner,
            key="k",
            patient=patient,
            submit=lambda: scan_submit(patient=patient, uploaded_by=owner, file=image),
        )
    assert not Scan.objects.exists()
    assert stored_files() == []
