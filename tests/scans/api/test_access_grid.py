"""Every API URL × {owner, teammate, staff reviewer of the team, other team, superuser of
another team, anonymous}, with a token and with a browser session."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from tests.conftest import session_client, token_client
from tests.factories import PatientFactory, PredictionFactory
from tests.images import png_bytes

ALLOWED = {"owner": True, "teammate": True, "staff_reviewer": True, "outsider": False, "outside_superuser": False}


@pytest.fixture
def prediction(team, owner):
    patient = PatientFactory(team=team, created_by=owner)
    return PredictionFactory(scan__patient=patient, scan__uploaded_by=owner)


def urls(prediction) -> dict[str, str]:
    scan = prediction.scan
    return {
        "patient scans": reverse("api:patient-scans", kwargs={"patient_id": scan.patient_id}),
        "scan detail": reverse("api:scan-detail", kwargs={"scan_id": scan.pk}),
        "scan image": reverse("api:scan-image", kwargs={"scan_id": scan.pk}),
        "gradcam": reverse("api:prediction-gradcam", kwargs={"scan_id": scan.pk, "model": "custom_cnn"}),
        "saliency": reverse("api:prediction-saliency", kwargs={"scan_id": scan.pk, "model": "custom_cnn"}),
    }


@pytest.mark.parametrize("who", list(ALLOWED))
@pytest.mark.parametrize("make_client", [token_client, session_client], ids=["token", "session"])
@pytest.mark.parametrize("url_name", ["patient scans", "scan detail", "scan image", "gradcam", "saliency"])
def test_each_url_is_visible_to_the_team_only(request, prediction, who, make_client, url_name):
    client = make_client(request.getfixturevalue(who))
    response = client.get(urls(prediction)[url_name])
    assert response.status_code == (200 if ALLOWED[who] else 404)


@pytest.mark.parametrize("url_name", ["patient scans", "scan detail", "scan image", "gradcam", "saliency"])
def test_each_url_refuses_anonymous_callers(api_client, prediction, url_name):
    assert api_client.get(urls(prediction)[url_name]).status_code == 401


def test_the_patient_list_shows_only_the_teams_patients(team, owner, outsider, other_team):
    mine = PatientFactory(team=team, created_by=owner)
    theirs = PatientFactory(team=other_team, created_by=outsider)
    for user, expected in ((owner, mine), (outsider, theirs)):
        body = token_client(user).get(reverse("api:patient-list")).json()
        assert [row["id"] for row in body["results"]] == [expected.pk]


def test_the_patient_list_refuses_anonymous_callers(api_client, db):
    assert api_client.get(reverse("api:patient-list")).status_code == 401


@pytest.mark.usefixtures("fake_weights")
@pytest.mark.parametrize("who", list(ALLOWED))
def test_uploading_into_a_patient_follows_the_same_grid(request, prediction, who):
    client = token_client(request.getfixturevalue(who))
    url = urls(prediction)["patient scans"]
    image = SimpleUploadedFile("scan.png", png_bytes(), content_type="image/png")
    response = client.post(url, {"image": image}, format="multipart")
    assert response.status_code == (202 if ALLOWED[who] else 404)


def test_the_image_urls_in_the_api_work_with_the_same_token(prediction, owner):
    client = token_client(owner)
    body = client.get(urls(prediction)["scan detail"]).json()
    for url in (body["image_url"], body["predictions"][0]["gradcam_url"], body["predictions"][0]["saliency_url"]):
        response = client.get(url)
        assert response.status_code == 200
        assert response["Content-Type"] == "image/png"
        assert b"".join(response.streaming_content).startswith(b"\x89PNG")


def test_a_missing_model_map_is_a_404(prediction, owner):
    url = reverse("api:prediction-gradcam", kwargs={"scan_id": prediction.scan_id, "model": "xception"})
    assert token_client(owner).get(url).status_code == 404


def test_there_is_no_public_media_url(prediction, client, settings):
    name = prediction.scan.image.name
    for prefix in ("/media/", "/var/media/", "/"):
        assert client.get(prefix + name).status_code == 404
