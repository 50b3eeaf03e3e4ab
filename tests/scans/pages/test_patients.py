"""Patients: list with search and pagination; create and edit with field errors."""

import pytest

from audit.models import AuditEvent
from scans.models import Patient
from tests.factories import PatientFactory, TeamFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def logged_in(client, owner):
    client.force_login(owner)
    return client


def test_the_list_searches_by_mrn_and_by_name(logged_in, team, owner):
    PatientFactory(team=team, created_by=owner, medical_record_number="MRN-ABC", display_name="Ada Lovelace")
    PatientFactory(team=team, created_by=owner, medical_record_number="MRN-XYZ", display_name="Grace Hopper")
    by_mrn = logged_in.get("/patients/", {"q": "abc"}).content.decode()
    assert "Ada Lovelace" in by_mrn and "Grace Hopper" not in by_mrn
    by_name = logged_in.get("/patients/", {"q": "hopper"}).content.decode()
    assert "Grace Hopper" in by_name and "Ada Lovelace" not in by_name


def test_the_list_is_paginated_and_keeps_the_search(logged_in, team, owner):
    PatientFactory.create_batch(30, team=team, created_by=owner, display_name="Same Name")
    first = logged_in.get("/patients/", {"q": "same"})
    assert first.context["page"].paginator.num_pages == 2
    assert 'href="?q=same&amp;page=2"' in first.content.decode()
    assert len(logged_in.get("/patients/", {"q": "same", "page": 2}).context["page"].object_list) == 5


def test_creating_a_patient_goes_to_their_history(logged_in, team, owner):
    response = logged_in.post("/patients/new/", {"medical_record_number": " MRN-1 ", "display_name": "Jane Roe"})
    patient = Patient.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/patients/{patient.pk}/"
    assert (patient.team, patient.medical_record_number, patient.created_by) == (team, "MRN-1", owner)
    assert AuditEvent.objects.filter(action="create", object_type="patient", object_id=str(patient.pk)).exists()


def test_a_duplicate_mrn_in_the_team_is_a_form_error(logged_in, team, owner):
    PatientFactory(team=team, created_by=owner, medical_record_number="MRN-1")
    response = logged_in.post("/patients/new/", {"medical_record_number": "MRN-1", "display_name": "Jane Roe"})
    assert response.status_code == 200
    assert response.context["form"].errors["medical_record_number"] == [
        "A patient with this record number already exists in this team."
    ]
    assert Patient.objects.count() == 1


def test_the_same_mrn_in_another_team_is_fine(logged_in, other_team, owner):
    PatientFactory(team=other_team, medical_record_number="MRN-1")
    response = logged_in.post("/patients/new/", {"medical_record_number": "MRN-1", "display_name": "Jane Roe"})
    assert response.status_code == 302


def test_missing_fields_are_shown_beside_each_field(logged_in):
    response = logged_in.post("/patients/new/", {"medical_record_number": "", "birth_year": "1800"})
    errors = response.context["form"].errors
    assert set(errors) == {"medical_record_number", "display_name", "birth_year"}
    assert 'class="field-errors" role="alert"' in response.content.decode()


def test_a_member_of_several_teams_chooses_one(client, owner, team):
    second = TeamFactory(name="Neuro C")
    second.members.add(owner)
    client.force_login(owner)
    missing = client.post("/patients/new/", {"medical_record_number": "M", "display_name": "N"})
    assert "team" in missing.context["form"].errors
    response = client.post("/patients/new/", {"team": second.pk, "medical_record_number": "M", "display_name": "N"})
    assert response.status_code == 302
    assert Patient.objects.get().team == second


def test_a_team_the_user_is_not_in_cannot_be_chosen(client, owner, team, other_team):
    TeamFactory(name="Neuro C").members.add(owner)
    client.force_login(owner)
    response = client.post("/patients/new/", {"team": other_team.pk, "medical_record_number": "M", "display_name": "N"})
    assert "team" in response.context["form"].errors
    assert not Patient.objects.exists()


def test_a_user_without_a_team_is_told_why_they_cannot_add_patients(client, db):
    from tests.factories import UserFactory

    client.force_login(UserFactory(username="loner"))
    assert "not a member of any team" in client.get("/patients/new/").content.decode()


def test_editing_changes_the_details(logged_in, team, owner):
    patient = PatientFactory(team=team, created_by=owner, medical_record_number="OLD")
    response = logged_in.post(
        f"/patients/{patient.pk}/edit/",
        {"medical_record_number": "NEW", "display_name": "Renamed", "sex": "F", "birth_year": "1970", "notes": "n"},
    )
    assert response.status_code == 302
    patient.refresh_from_db()
    assert (patient.medical_record_number, patient.display_name, patient.sex, patient.birth_year) == (
        "NEW",
        "Renamed",
        "F",
        1970,
    )


def test_editing_to_a_taken_mrn_is_a_form_error(logged_in, team, owner):
    PatientFactory(team=team, created_by=owner, medical_record_number="TAKEN")
    patient = PatientFactory(team=team, created_by=owner, medical_record_number="MINE")
    response = logged_in.post(f"/patients/{patient.pk}/edit/", {"medical_record_number": "TAKEN", "display_name": "X"})
    assert response.status_code == 200
    assert "already exists" in response.context["form"].errors["medical_record_number"][0]
    patient.refresh_from_db()
    assert patient.medical_record_number == "MINE"


def test_the_edit_form_starts_with_the_current_details(logged_in, team, owner):
    patient = PatientFactory(team=team, created_by=owner, medical_record_number="MRN-77", display_name="Ann")
    body = logged_in.get(f"/patients/{patient.pk}/edit/").content.decode()
    assert 'value="MRN-77"' in body and 'value="Ann"' in body
