from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session
from django.utils import timezone

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
    assert response.status_code == 429
    assert "token" not in response.json()


def _session_row(client) -> Session:
    return Session.objects.get(session_key=client.session.session_key)


def _idle_for(client, minutes: float) -> None:
    """As if the last request had been `minutes` ago: the stored expiry moves that much closer."""
    row = _session_row(client)
    row.expire_date -= timedelta(minutes=minutes)
    row.save()


def test_the_idle_timeout_is_30_minutes_by_default():
    assert settings.SESSION_COOKIE_AGE == 30 * 60


def test_a_session_idle_for_longer_than_the_timeout_is_over(client, user):
    login(client, PASSWORD)
    assert client.get("/patients/").status_code == 200

    _idle_for(client, settings.SESSION_COOKIE_AGE / 60 + 1)

    response = client.get("/patients/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_every_request_pushes_the_idle_timeout_forward(client, user):
    login(client, PASSWORD)
    _idle_for(client, settings.SESSION_COOKIE_AGE / 60 - 1)  # one minute left

    assert client.get("/patients/").status_code == 200

    left = _session_row(client).expire_date - timezone.now()
    assert left > timedelta(seconds=settings.SESSION_COOKIE_AGE - 60)
    _idle_for(client, settings.SESSION_COOKIE_AGE / 60 - 1)
    assert client.get("/patients/").status_code == 200


def test_behind_a_proxy_one_clients_failures_do_not_lock_out_another(client, user, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    proxy = {"REMOTE_ADDR": "10.0.0.1"}  # every request arrives from the TLS proxy
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post(
            "/accounts/login/", {"username": "carol", "password": "wrong"}, HTTP_X_FORWARDED_FOR="203.0.113.1", **proxy
        )

    locked = client.post(
        "/accounts/login/", {"username": "carol", "password": PASSWORD}, HTTP_X_FORWARDED_FOR="203.0.113.1", **proxy
    )
    elsewhere = client.post(
        "/accounts/login/", {"username": "carol", "password": PASSWORD}, HTTP_X_FORWARDED_FOR="203.0.113.2", **proxy
    )

    assert (locked.status_code, elsewhere.status_code) == (429, 302)
