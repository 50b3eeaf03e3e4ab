"""Inputs at the edges that once answered 500 or an HTML page to an API client: each must be
a page or a clear error, in JSON under /api/."""

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from tests.conftest import token_client
from tests.factories import PatientFactory
from tests.images import png_bytes

pytestmark = pytest.mark.django_db


@pytest.fixture
def logged_in(client, owner):
    client.force_login(owner)
    return client


@pytest.mark.parametrize(
    "query", ["date_to=9999-12-31", "date_from=9999-12-31", "date_to=0001-01-01", "date_to=99999-1-1"]
)
def test_a_date_filter_at_the_ends_of_time_is_not_a_500(logged_in, query):
    assert logged_in.get(f"/scans/?{query}").status_code == 200


def test_too_many_fields_for_the_api_is_a_json_400(owner):
    fields = {f"field{i}": "x" for i in range(1100)}
    response = token_client(owner).post("/api/v1/patients/", fields)
    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/json")
    assert "detail" in response.json()


def test_too_many_files_for_the_api_is_a_json_400(owner, team):
    patient = PatientFactory(team=team, created_by=owner)
    files = {f"image{i}": SimpleUploadedFile(f"{i}.png", b"x") for i in range(110)}
    response = token_client(owner).post(f"/api/v1/patients/{patient.pk}/scans/", files, format="multipart")
    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/json")


def test_patient_notes_over_ten_thousand_characters_are_a_field_error_in_the_api(owner, team):
    response = token_client(owner).post(
        "/api/v1/patients/", {"medical_record_number": "N-1", "display_name": "A B", "notes": "x" * 10_001}
    )
    assert response.status_code == 400
    assert "notes" in response.json()


def test_patient_notes_over_ten_thousand_characters_are_a_field_error_on_the_page(logged_in, team):
    response = logged_in.post(
        "/patients/new/",
        {"team": team.pk, "medical_record_number": "N-1", "display_name": "A B", "notes": "x" * 10_001},
    )
    assert response.status_code == 200
    assert "notes" in response.context["form"].errors


def test_an_acquisition_date_in_the_future_is_a_field_error_in_the_api(owner, team, fake_weights):
    patient = PatientFactory(team=team, created_by=owner)
    tomorrow = timezone.localdate() + timedelta(days=1)
    image = SimpleUploadedFile("scan.png", png_bytes(), content_type="image/png")
    response = token_client(owner).post(
        f"/api/v1/patients/{patient.pk}/scans/", {"image": image, "acquisition_date": tomorrow}, format="multipart"
    )
    assert response.status_code == 400
    assert "future" in " ".join(response.json()["acquisition_date"])


def test_an_acquisition_date_in_the_future_is_a_field_error_on_the_page(logged_in, owner, team, fake_weights):
    patient = PatientFactory(team=team, created_by=owner)
    tomorrow = timezone.localdate() + timedelta(days=1)
    image = SimpleUploadedFile("scan.png", png_bytes(), content_type="image/png")
    response = logged_in.post(
        "/upload/", {"patient": patient.pk, "model": "custom_cnn", "acquisition_date": tomorrow, "images": image}
    )
    assert "acquisition_date" in response.context["form"].errors
