"""The upload page: model choice with Xception shown unavailable and why, and the form that
works without JavaScript (with it, each file goes to the API: tests/scans/api, tests/e2e)."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from scans.models import Scan
from tests.factories import PatientFactory
from tests.images import jpeg_bytes, png_bytes

pytestmark = pytest.mark.django_db


@pytest.fixture
def patient(team, owner):
    return PatientFactory(team=team, created_by=owner, display_name="Upload Patient")


@pytest.fixture
def logged_in(client, owner, fake_weights):
    client.force_login(owner)
    return client


def _png(name="scan.png"):
    return SimpleUploadedFile(name, png_bytes(), content_type="image/png")


def test_xception_is_shown_unavailable_with_the_reason(logged_in, patient):
    body = logged_in.get("/upload/").content.decode()
    assert 'id="model-xception" value="xception"\n             disabled' in body
    assert "Unavailable: Xception is not available: its weights are not installed." in body
    assert 'id="model-custom_cnn" value="custom_cnn"\n             \n             checked' in body


def test_the_patient_from_the_link_is_preselected(logged_in, patient):
    body = logged_in.get("/upload/", {"patient": patient.pk}).content.decode()
    assert f'<option value="{patient.pk}" selected>' in body


def test_the_page_carries_the_api_urls_its_script_needs(logged_in, patient):
    body = logged_in.get("/upload/").content.decode()
    assert 'data-api-patients="/api/v1/patients/"' in body
    assert 'src="/static/js/upload.js"' in body


def test_without_patients_the_page_asks_for_one_first(logged_in):
    assert "Create a patient" in logged_in.get("/upload/").content.decode()


def test_one_file_without_javascript_goes_to_its_result(logged_in, patient):
    response = logged_in.post(
        "/upload/", {"patient": patient.pk, "model": "custom_cnn", "acquisition_date": "2024-03-01", "images": _png()}
    )
    scan = Scan.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/scans/{scan.pk}/"
    assert (scan.patient, str(scan.acquisition_date), scan.requested_models) == (patient, "2024-03-01", ["custom_cnn"])


def test_several_files_go_to_the_patients_history(logged_in, patient):
    jpeg = SimpleUploadedFile("b.jpg", jpeg_bytes(), content_type="image/jpeg")
    response = logged_in.post(
        "/upload/", {"patient": patient.pk, "model": "custom_cnn", "images": [_png("a.png"), jpeg]}
    )
    assert response["Location"] == f"/patients/{patient.pk}/"
    assert Scan.objects.count() == 2


def test_a_bad_file_is_named_with_its_reason_and_the_good_ones_still_go_in(logged_in, patient):
    bad = SimpleUploadedFile("notes.png", b"<html>not an image</html>", content_type="image/png")
    response = logged_in.post("/upload/", {"patient": patient.pk, "model": "custom_cnn", "images": [_png(), bad]})
    assert response.status_code == 200
    [(name, reason)] = response.context["failures"]
    assert name == "notes.png"
    assert "Unsupported file type" in reason
    assert Scan.objects.count() == 1
    assert "notes.png" in response.content.decode()


def test_choosing_an_unavailable_model_is_a_form_error(logged_in, patient):
    response = logged_in.post("/upload/", {"patient": patient.pk, "model": "xception", "images": _png()})
    assert response.context["form"].errors["model"] == ["Xception is not available: its weights are not installed."]
    assert not Scan.objects.exists()


def test_no_file_is_an_error_in_words(logged_in, patient):
    response = logged_in.post("/upload/", {"patient": patient.pk, "model": "custom_cnn"})
    assert response.context["failures"] == [("", "Choose at least one image.")]


def test_another_teams_patient_cannot_be_chosen(logged_in, other_team):
    stranger = PatientFactory(team=other_team)
    response = logged_in.post("/upload/", {"patient": stranger.pk, "model": "custom_cnn", "images": _png()})
    assert "patient" in response.context["form"].errors
    assert not Scan.objects.exists()


def test_a_repeated_image_among_several_files_is_kept_and_named_in_a_warning(logged_in, patient):
    first = logged_in.post("/upload/", {"patient": patient.pk, "model": "custom_cnn", "images": _png("first.png")})
    assert first.status_code == 302
    response = logged_in.post(
        "/upload/",
        {"patient": patient.pk, "model": "custom_cnn", "images": [_png("again.png"), _png("third.png")]},
        follow=True,
    )
    original, again, third = Scan.objects.order_by("pk")
    body = response.content.decode()
    assert f"again.png (scan {again.pk}): the same image was uploaded on" in body
    assert f"as scan {original.pk}. Both are kept." in body
    assert f"third.png (scan {third.pk})" in body
    assert "3 scan(s)" not in body and "2 scan(s) uploaded." in body


def test_a_new_image_brings_no_repeat_warning(logged_in, patient):
    response = logged_in.post("/upload/", {"patient": patient.pk, "model": "custom_cnn", "images": _png()}, follow=True)
    assert "the same image was uploaded" not in response.content.decode()
