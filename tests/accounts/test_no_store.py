"""Nothing a logged-in user is shown may be kept by a browser or proxy cache."""

import pytest

from tests.conftest import token_client
from tests.factories import PatientFactory, PredictionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def prediction(team, owner):
    return PredictionFactory(scan__patient=PatientFactory(team=team, created_by=owner))


@pytest.mark.parametrize("url", ["/", "/patients/", "/patients/{patient}/", "/scans/{scan}/", "/api/v1/scans/{scan}/image/"])
def test_pages_and_images_for_a_logged_in_user_are_not_stored(client, owner, prediction, url):
    client.force_login(owner)
    response = client.get(url.format(patient=prediction.scan.patient_id, scan=prediction.scan_id))
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"


@pytest.mark.parametrize("url", ["/api/v1/patients/", "/api/v1/scans/{scan}/", "/api/v1/scans/{scan}/image/"])
def test_api_answers_to_a_token_are_not_stored(owner, prediction, url):
    response = token_client(owner).get(url.format(scan=prediction.scan_id))
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
