import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext

from scans.models import Scan
from tests.factories import PatientFactory, PredictionFactory, ScanFactory, stored_files
from tests.images import HTML_AS_PNG, SVG, jpeg_bytes, png_bomb, png_bytes

pytestmark = pytest.mark.usefixtures("fake_weights")


@pytest.fixture
def patient(team, owner):
    return PatientFactory(team=team, created_by=owner)


def url(patient) -> str:
    return f"/api/v1/patients/{patient.pk}/scans/"


def upload(client, patient, data: bytes, name: str = "scan.png", **fields):
    image = SimpleUploadedFile(name, data, content_type="image/png")
    return client.post(url(patient), {"image": image, **fields}, format="multipart")


def test_an_upload_is_accepted_and_queued(owner_api, patient):
    response = upload(owner_api, patient, png_bytes(), acquisition_date="2024-03-01")
    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "queued"
    assert body["predictions"] == []
    assert body["explanation"] is None
    assert response["Location"].endswith(f"/api/v1/scans/{body['id']}/")
    scan = Scan.objects.get(pk=body["id"])
    assert scan.requested_models == ["custom_cnn"]
    assert str(scan.acquisition_date) == "2024-03-01"


def test_a_jpeg_is_accepted_and_kept_for_the_worker_to_reencode(owner_api, patient):
    response = upload(owner_api, patient, jpeg_bytes(), name="scan.jpg")
    assert response.status_code == 202
    # The worker turns it into a PNG before classifying it (tests/scans/test_intake.py).
    assert Scan.objects.get().image.name.startswith("incoming/")


@pytest.mark.parametrize(
    ("data", "name", "message"),
    [
        (HTML_AS_PNG, "page.png", "only PNG and JPEG"),
        (SVG, "drawing.svg", "only PNG and JPEG"),
        (b"", "empty.png", "empty"),
        (jpeg_bytes(300, 300)[:500], "cut.jpg", "damaged or truncated"),
        (png_bomb(), "bomb.png", "Image too large"),
        (png_bytes() + b"\0" * (25 * 1024 * 1024), "huge.png", "too large: the limit is 20 MB"),
    ],
    ids=["html-renamed-png", "svg", "zero-bytes", "truncated-jpeg", "png-bomb", "25-mb"],
)
def test_each_bad_upload_is_a_400_with_no_file_and_no_row(owner_api, patient, data, name, message):
    response = upload(owner_api, patient, data, name=name)
    assert response.status_code == 400
    assert message in " ".join(response.json()["image"])
    assert not Scan.objects.exists()
    assert stored_files() == []


def test_a_request_over_the_request_limit_is_a_413(owner_api, patient, settings):
    settings.MAX_REQUEST_BYTES = 1024
    response = upload(owner_api, patient, png_bytes() + b"\0" * 4096)
    assert response.status_code == 413
    assert "Request too large" in response.json()["detail"]


def test_a_missing_image_is_a_field_error(owner_api, patient):
    response = owner_api.post(url(patient), {}, format="multipart")
    assert response.status_code == 400
    assert "image" in response.json()


@pytest.mark.parametrize("model", ["xception", "both"])
def test_xception_is_refused_while_its_weights_are_absent(owner_api, patient, model):
    response = upload(owner_api, patient, png_bytes(), model=model)
    assert response.status_code == 400
    assert response.json() == {"model": ["Xception is not available: its weights are not installed."]}


def test_an_unknown_model_is_a_field_error(owner_api, patient):
    response = upload(owner_api, patient, png_bytes(), model="resnet")
    assert response.status_code == 400
    assert "model" in response.json()


def test_the_list_is_the_patients_scans_newest_first_paginated(owner_api, patient, team, owner):
    older, newer = ScanFactory(patient=patient), ScanFactory(patient=patient)
    ScanFactory(patient=PatientFactory(team=team, created_by=owner))
    body = owner_api.get(url(patient)).json()
    assert body["count"] == 2
    assert [row["id"] for row in body["results"]] == [newer.pk, older.pk]


def test_listing_scans_takes_the_same_number_of_queries_for_one_or_many(owner_api, patient):
    def queries_for_list() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert owner_api.get(url(patient)).status_code == 200
        return len(captured)

    PredictionFactory(scan__patient=patient)
    queries_for_list()  # the first read of the minute also writes the audit event
    one = queries_for_list()
    for _ in range(5):
        PredictionFactory(scan__patient=patient)
    assert queries_for_list() == one


def test_the_same_image_uploaded_again_is_accepted_and_points_to_the_first(owner_api, patient):
    first = upload(owner_api, patient, png_bytes()).json()
    assert first["duplicate_of"] is None
    response = upload(owner_api, patient, png_bytes(), name="again.png")
    assert response.status_code == 202
    again = response.json()
    assert again["id"] != first["id"]
    assert again["duplicate_of"] == {"id": first["id"], "url": f"http://testserver/api/v1/scans/{first['id']}/"}
    assert Scan.objects.count() == 2


def test_the_same_image_for_another_patient_is_no_repeat(owner_api, patient, team, owner):
    upload(owner_api, patient, png_bytes())
    other = PatientFactory(team=team, created_by=owner)
    assert upload(owner_api, other, png_bytes()).json()["duplicate_of"] is None


def test_the_list_and_the_scan_say_which_scan_an_image_repeats(owner_api, patient):
    first = ScanFactory(patient=patient, sha256="a" * 64)
    again = ScanFactory(patient=patient, sha256="a" * 64)
    listed = {scan["id"]: scan["duplicate_of"] for scan in owner_api.get(url(patient)).json()["results"]}
    assert listed[first.pk] is None
    assert listed[again.pk]["id"] == first.pk
    assert owner_api.get(f"/api/v1/scans/{again.pk}/").json()["duplicate_of"]["id"] == first.pk
