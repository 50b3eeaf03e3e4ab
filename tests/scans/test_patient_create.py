import pytest
from django.core.exceptions import ValidationError

from scans.services import patient_create


def test_it_creates_a_patient_in_the_team(team, owner):
    patient = patient_create(team=team, created_by=owner, medical_record_number=" M-1 ", display_name="A B")
    assert (patient.team, patient.medical_record_number, patient.created_by) == (team, "M-1", owner)


def test_it_refuses_a_team_the_user_is_not_in(other_team, owner):
    with pytest.raises(ValidationError) as error:
        patient_create(team=other_team, created_by=owner, medical_record_number="M-1", display_name="A B")
    assert "team" in error.value.message_dict


def test_a_duplicate_record_number_in_the_team_is_a_field_error(team, owner):
    patient_create(team=team, created_by=owner, medical_record_number="M-1", display_name="A B")
    with pytest.raises(ValidationError) as error:
        patient_create(team=team, created_by=owner, medical_record_number="M-1", display_name="C D")
    assert list(error.value.message_dict) == ["medical_record_number"]


def test_an_unknown_sex_code_is_refused(team, owner):
    with pytest.raises(ValidationError):
        patient_create(team=team, created_by=owner, medical_record_number="M-1", display_name="A", sex="X")
