from datetime import timedelta

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone
from knox.models import AuthToken

from tests.factories import UserFactory

URL = "/api/v1/auth/token/"
REVOKE_URL = "/api/v1/auth/token/revoke/"
PASSWORD = "correct-horse-battery"


@pytest.fixture
def user(db):
    return UserFactory(username="alice", password=PASSWORD)


def obtain(api_client, password=PASSWORD):
    return api_client.post(URL, {"username": "alice", "password": password})


def patients(api_client, token):
    return api_client.get("/api/v1/patients/", HTTP_AUTHORIZATION=f"Token {token}")


def test_the_token_urls_are_stable():
    assert reverse("api:auth-token") == URL
    assert reverse("api:auth-token-revoke") == REVOKE_URL


def test_it_returns_a_token_and_its_expiry_for_valid_credentials(api_client, user):
    response = obtain(api_client)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"token", "expiry"}
    assert patients(api_client, body["token"]).status_code == 200


def test_a_token_expires_after_the_configured_time(api_client, user):
    token = obtain(api_client).json()["token"]
    row = AuthToken.objects.get(user=user)
    assert settings.REST_KNOX["TOKEN_TTL"] == timedelta(hours=10)
    assert abs(row.expiry - row.created - timedelta(hours=10)) < timedelta(minutes=1)

    AuthToken.objects.filter(pk=row.pk).update(expiry=timezone.now() - timedelta(seconds=1))

    assert patients(api_client, token).status_code == 401


def test_tokens_are_stored_only_as_a_hash(api_client, user):
    token = obtain(api_client).json()["token"]
    row = AuthToken.objects.get(user=user)
    assert token not in (row.digest, row.token_key)
    assert len(row.token_key) < len(token)


def test_revoking_a_token_ends_it_and_only_it(api_client, user):
    first, second = obtain(api_client).json()["token"], obtain(api_client).json()["token"]

    response = api_client.post(REVOKE_URL, HTTP_AUTHORIZATION=f"Token {first}")

    assert response.status_code == 204
    assert patients(api_client, first).status_code == 401
    assert patients(api_client, second).status_code == 200


def test_revoking_all_ends_every_token_of_the_user(api_client, user):
    first, second = obtain(api_client).json()["token"], obtain(api_client).json()["token"]
    api_client.post(f"{REVOKE_URL}?all=1", HTTP_AUTHORIZATION=f"Token {first}")
    assert [patients(api_client, t).status_code for t in (first, second)] == [401, 401]


def test_revoking_needs_a_login(api_client, db):
    assert api_client.post(REVOKE_URL).status_code == 401


def test_a_password_change_revokes_every_token(api_client, user):
    token = obtain(api_client).json()["token"]
    user.set_password("another-long-password")
    user.save()
    assert patients(api_client, token).status_code == 401


def test_deactivating_the_account_revokes_every_token(api_client, user):
    token = obtain(api_client).json()["token"]
    user.is_active = False
    user.save()
    assert not AuthToken.objects.filter(user=user).exists()
    assert patients(api_client, token).status_code == 401


def test_other_saves_leave_the_tokens_alone(api_client, user):
    token = obtain(api_client).json()["token"]
    user.email = "alice@example.org"
    user.save()
    assert patients(api_client, token).status_code == 200


def test_it_refuses_a_wrong_password_with_a_json_message(api_client, user):
    response = obtain(api_client, "wrong")
    assert response.status_code == 400
    assert "non_field_errors" in response.json()


def test_a_locked_out_login_is_a_429_even_with_the_right_password(api_client, user):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        obtain(api_client, "wrong")
    response = obtain(api_client)
    assert response.status_code == 429
    assert "locked" in response.json()["detail"]
    assert not AuthToken.objects.exists()


def test_a_bad_token_is_refused(api_client, db):
    response = api_client.get("/api/v1/patients/", HTTP_AUTHORIZATION="Token nope")
    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid token."}
