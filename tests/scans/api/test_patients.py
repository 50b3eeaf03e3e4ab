import pytest

from scans.models import Patient
from tests.conftest import token_client
from tests.factories import PatientFactory, TeamFactory

URL = "/api/v1/patients/"


def test_a_member_of_one_team_creates_a_patient_with_two_fields(owner_api, team):
    response = owner_api.post(URL, {"medical_record_number": "MRN-1", "display_name": "A B"})
    assert response.status_code == 201
    assert Patient.objects.get(pk=response.json()["id"]).team == team


def test_a_member_of_several_teams_must_name_the_team(owner, team):
    second = TeamFactory(name="Second")
    second.members.add(owner)
    client = token_client(owner)
    response = client.post(URL, {"medical_record_number": "MRN-1", "display_name": "A B"})
    assert response.status_code == 400
    assert "team" in response.json()
    response = client.post(URL, {"medical_record_number": "MRN-1", "display_name": "A B", "team": second.pk})
    assert response.status_code == 201
    assert response.json()["team"] == second.pk


def test_it_rejects_another_teams_team(owner_api, other_team):
    response = owner_api.post(URL, {"medical_record_number": "MRN-1", "display_name": "A B", "team": other_team.pk})
    assert response.status_code == 400
    assert response.json() == {"team": ["Unknown team, or you are not one of its members."]}
    assert not Patient.objects.exists()


def test_a_duplicate_record_number_is_a_field_error(owner_api, team, owner):
    PatientFactory(team=team, created_by=owner, medical_record_number="MRN-1")
    response = owner_api.post(URL, {"medical_record_number": "MRN-1", "display_name": "A B"})
    assert response.status_code == 400
    assert list(response.json()) == ["medical_record_number"]


def test_the_same_record_number_may_exist_in_another_team(owner_api, other_team, outsider):
    PatientFactory(team=other_team, created_by=outsider, medical_record_number="MRN-1")
    response = owner_api.post(URL, {"medical_record_number": "MRN-1", "display_name": "A B"})
    assert response.status_code == 201


def test_missing_fields_are_reported_per_field(owner_api, team):
    response = owner_api.post(URL, {})
    assert response.status_code == 400
    assert set(response.json()) == {"medical_record_number", "display_name"}


def test_the_list_is_paginated(owner_api, team, owner):
    PatientFactory.create_batch(3, team=team, created_by=owner)
    body = owner_api.get(URL).json()
    assert body["count"] == 3
    assert {"next", "previous", "results"} <= set(body)


@pytest.mark.parametrize("field", ["display_name", "medical_record_number"])
def test_the_list_shows_what_the_team_typed(owner_api, team, owner, field):
    patient = PatientFactory(team=team, created_by=owner)
    assert owner_api.get(URL).json()["results"][0][field] == getattr(patient, field)
