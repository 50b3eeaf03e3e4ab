"""manage.py add_member: the README's way to make a team and a staff reviewer without the admin."""

import re

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from accounts.models import Team, User
from accounts.services import REVIEWERS_GROUP
from scans.models import Review
from tests.factories import PredictionFactory, UserFactory

pytestmark = pytest.mark.django_db


def _add_member(*args: str, capsys) -> str:
    call_command("add_member", *args)
    return capsys.readouterr().out


def _printed_password(output: str) -> str:
    return re.search(r"^Password: (\S+) ", output, re.MULTILINE).group(1)


def test_it_creates_the_team_and_a_staff_reviewer_with_a_password_printed_once(capsys):
    output = _add_member("rev", "--team", "Neuroradiology", "--role", "reviewer", "--staff", capsys=capsys)

    user = User.objects.get(username="rev")
    assert user.is_reviewer and user.is_staff
    assert list(user.teams.all()) == [Team.objects.get(name="Neuroradiology")]
    assert user.groups.filter(name=REVIEWERS_GROUP).exists()
    assert "Created team 'Neuroradiology'." in output
    assert "Created staff reviewer 'rev' (staff: may use the admin) in team 'Neuroradiology'." in output
    assert user.check_password(_printed_password(output))


def test_the_readme_walkthrough_gives_a_reviewer_who_can_review_the_demo_patients_scans(capsys, settings):
    settings.DEMO_USERNAME = settings.DEMO_PASSWORD = ""
    call_command("ensure_demo")
    demo = User.objects.get(username="demo")
    prediction = PredictionFactory(scan__patient__team=Team.objects.get(name="Demo team"), label="glioma")
    output = _add_member("rev", "--team", "Demo team", "--role", "reviewer", "--staff", capsys=capsys)

    client = Client()
    login = client.post("/accounts/login/", {"username": "rev", "password": _printed_password(output)})
    assert login.status_code == 302
    assert client.get("/review/").status_code == 200
    assert client.get("/admin/scans/scan/").status_code == 200
    response = client.post(f"/scans/{prediction.scan_id}/review/", {"verdict": "agree"})

    assert response.status_code == 302
    assert Review.objects.get(scan=prediction.scan).reviewer.username == "rev"
    assert demo.teams.get().members.count() == 2


def test_an_existing_user_keeps_their_password_role_and_staff_flag_and_joins_the_team(capsys):
    UserFactory(username="admin", is_staff=True, is_superuser=True, password="their-own-long-password")

    output = _add_member("admin", "--team", "Demo team", capsys=capsys)

    user = User.objects.get(username="admin")
    assert user.check_password("their-own-long-password")
    assert user.role == User.Role.CLINICIAN and user.is_staff
    assert user.teams.filter(name="Demo team").exists()
    assert "Updated clinician 'admin' (staff: may use the admin) in team 'Demo team'." in output
    assert "Password" not in output


def test_running_it_twice_changes_nothing_the_second_time(capsys):
    _add_member("rev", "--team", "Demo team", "--role", "reviewer", capsys=capsys)
    password_hash = User.objects.get(username="rev").password

    output = _add_member("rev", "--team", "Demo team", "--role", "reviewer", capsys=capsys)

    user = User.objects.get(username="rev")
    assert user.password == password_hash
    assert user.teams.count() == 1 and Team.objects.count() == 1
    assert "Created" not in output and "Password" not in output


def test_a_reviewer_made_a_clinician_leaves_the_reviewers_group(capsys):
    _add_member("rev", "--team", "Demo team", "--role", "reviewer", capsys=capsys)
    _add_member("rev", "--team", "Demo team", "--role", "clinician", capsys=capsys)

    assert not Group.objects.get(name=REVIEWERS_GROUP).user_set.filter(username="rev").exists()


def test_a_given_password_is_set_and_not_printed(capsys):
    output = _add_member("ana", "--team", "Demo team", "--password", "a-long-chosen-passphrase", capsys=capsys)

    assert User.objects.get(username="ana").check_password("a-long-chosen-passphrase")
    assert "a-long-chosen-passphrase" not in output


def test_a_weak_password_is_refused_and_nothing_is_created():
    with pytest.raises(CommandError, match="too short"):
        call_command("add_member", "ana", "--team", "New team", "--password", "abc")

    assert not User.objects.filter(username="ana").exists()
    assert not Team.objects.filter(name="New team").exists()


def test_an_unknown_role_is_refused():
    with pytest.raises(CommandError, match="role"):
        call_command("add_member", "ana", "--team", "Demo team", "--role", "surgeon")

    assert not User.objects.filter(username="ana").exists()
