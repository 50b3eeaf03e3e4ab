import pytest
from django.contrib.auth.models import AnonymousUser
from django.http import Http404

from scans import selectors
from tests.factories import PatientFactory, ScanFactory, TeamFactory, UserFactory


def test_a_user_sees_the_patients_of_every_team_they_belong_to(owner, team, outsider, other_team):
    third = TeamFactory(name="Third")
    third.members.add(owner)
    mine = {PatientFactory(team=team).pk, PatientFactory(team=third).pk}
    PatientFactory(team=other_team)
    assert set(selectors.patients_visible_to(owner).values_list("pk", flat=True)) == mine


def test_a_user_in_no_team_sees_nothing(db, team):
    PatientFactory(team=team)
    assert not selectors.patients_visible_to(UserFactory()).exists()


def test_anonymous_sees_nothing(team):
    PatientFactory(team=team)
    assert not selectors.patients_visible_to(AnonymousUser()).exists()


def test_a_superuser_outside_the_team_sees_nothing_of_it(outside_superuser, team):
    PatientFactory(team=team)
    assert not selectors.patients_visible_to(outside_superuser).exists()


def test_scan_get_is_a_404_for_another_teams_scan(outsider, team):
    scan = ScanFactory(patient=PatientFactory(team=team))
    with pytest.raises(Http404):
        selectors.scan_get(user=outsider, scan_id=scan.pk)


def test_patient_get_is_a_404_for_another_teams_patient(outsider, team):
    with pytest.raises(Http404):
        selectors.patient_get(user=outsider, patient_id=PatientFactory(team=team).pk)


def test_scans_visible_to_follows_the_patients(owner, team, other_team):
    mine = ScanFactory(patient=PatientFactory(team=team))
    ScanFactory(patient=PatientFactory(team=other_team))
    assert list(selectors.scans_visible_to(owner)) == [mine]
