"""A database or broker outage answers 503 with Retry-After, never 500 (RELIABILITY.md 19)."""

import pytest
from django.db import OperationalError
from django.test import Client
from kombu.exceptions import OperationalError as BrokerError

from scans import selectors
from tests.factories import PatientFactory


def database_down(*args, **kwargs):
    raise OperationalError("could not connect to server: Connection refused")


@pytest.fixture
def quiet_client(owner):
    # Django's test client re-raises view exceptions by default; a browser gets the page.
    client = Client(raise_request_exception=False)
    client.force_login(owner)
    return client


@pytest.mark.parametrize("error", [database_down, BrokerError("connection refused")])
def test_an_api_request_during_an_outage_gets_a_json_503_with_retry_after(owner, team, monkeypatch, error):
    from tests.conftest import token_client

    patient = PatientFactory(team=team, created_by=owner)
    monkeypatch.setattr(selectors, "patient_get", error if callable(error) else _raiser(error))
    client = token_client(owner)
    client.raise_request_exception = False
    response = client.get(f"/api/v1/patients/{patient.pk}/scans/")
    assert response.status_code == 503
    assert response["Retry-After"] == "10"
    assert "nothing was lost" in response.json()["detail"]


def test_a_page_during_an_outage_is_a_calm_503(quiet_client, owner, team, monkeypatch):
    patient = PatientFactory(team=team, created_by=owner)
    monkeypatch.setattr(selectors, "patient_get", database_down)
    response = quiet_client.get(f"/patients/{patient.pk}/")
    assert response.status_code == 503
    assert response["Retry-After"] == "10"
    assert b"Back in a moment" in response.content


def test_any_other_error_is_still_a_500(quiet_client, owner, team, monkeypatch):
    patient = PatientFactory(team=team, created_by=owner)
    monkeypatch.setattr(selectors, "patient_get", _raiser(ZeroDivisionError()))
    assert quiet_client.get(f"/patients/{patient.pk}/").status_code == 500


def _raiser(error: Exception):
    def raise_it(*args, **kwargs):
        raise error

    return raise_it
