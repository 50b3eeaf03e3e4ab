import pytest
from django.conf import settings

from tests.factories import UserFactory

PASSWORD = "a-long-test-password"


@pytest.fixture
def user(db):
    return UserFactory(username="carol")


def login(client, password):
    return client.post("/accounts/login/", {"username": "carol", "password": password})


def test_the_login_page_is_at_accounts_login(client, db):
    response = client.get("/accounts/login/")
    assert response.status_code == 200
    assert b"Research use only" in response.content


def test_a_clinician_logs_in_with_username_and_password(client, user):
    response = login(client, PASSWORD)
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(user.pk)


def test_repeated_failures_lock_the_account_out_even_with_the_right_password(client, user):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        login(client, "wrong")
    response = login(client, PASSWORD)
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


def test_repeated_failures_lock_the_token_endpoint_too(api_client, user):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        api_client.post("/api/v1/auth/token/", {"username": "carol", "password": "wrong"})
    response = api_client.post("/api/v1/auth/token/", {"username": "carol", "password": PASSWORD})
    # Django's authenticate() turns the lockout into "invalid credentials", so DRF answers 400.
    assert response.status_code == 400
    assert "token" not in response.json()


def test_a_session_expires_after_the_idle_timeout_and_every_request_extends_it(client, user):
    assert settings.SESSION_SAVE_EVERY_REQUEST is True
    assert settings.SESSION_COOKIE_AGE == 30 * 60
    login(client, PASSWORD)
    client.get("/api/v1/patients/")
    assert client.session.get_expiry_age() == 30 * 60
