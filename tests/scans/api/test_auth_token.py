import pytest
from django.urls import reverse

from tests.factories import UserFactory

URL = "/api/v1/auth/token/"


@pytest.fixture
def user(db):
    return UserFactory(username="alice", password="correct-horse-battery")


def test_the_token_url_is_stable():
    assert reverse("api:auth-token") == URL


def test_it_returns_a_token_for_valid_credentials(api_client, user):
    response = api_client.post(URL, {"username": "alice", "password": "correct-horse-battery"})
    assert response.status_code == 200
    token = response.json()["token"]
    assert api_client.get("/api/v1/patients/", HTTP_AUTHORIZATION=f"Token {token}").status_code == 200


def test_it_refuses_a_wrong_password_with_a_json_message(api_client, user):
    response = api_client.post(URL, {"username": "alice", "password": "wrong"})
    assert response.status_code == 400
    assert "non_field_errors" in response.json()


def test_a_bad_token_is_refused(api_client, db):
    response = api_client.get("/api/v1/patients/", HTTP_AUTHORIZATION="Token nope")
    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid token."}
