"""The Reviewers group: what the Django admin needs from a staff reviewer, kept after every
migrate and whenever the admin saves a user."""

import pytest
from django.apps import apps
from django.contrib.auth.models import Group
from django.test import Client

from accounts.models import User
from accounts.services import REVIEWERS_GROUP, reviewers_group_ensure
from tests.factories import PatientFactory, PredictionFactory, UserFactory

pytestmark = pytest.mark.django_db

def test_migrate_creates_it_with_view_and_change_on_the_scans_models_only():
    scans_models = [model._meta.model_name for model in apps.get_app_config("scans").get_models()]
    group = Group.objects.get(name=REVIEWERS_GROUP)
    codenames = set(group.permissions.values_list("content_type__app_label", "codename"))
    assert {"patient", "scan", "review"} <= set(scans_models)
    assert codenames == {("scans", f"{action}_{model}") for action in ("view", "change") for model in scans_models}


def test_it_holds_the_staff_reviewers_and_nobody_else(staff_reviewer, owner):
    former = UserFactory(username="former", role=User.Role.REVIEWER)
    group = reviewers_group_ensure()
    former.groups.add(group)
    User.objects.filter(pk=former.pk).update(role=User.Role.CLINICIAN)
    reviewers_group_ensure()
    assert list(group.user_set.all()) == [staff_reviewer]


def test_a_reviewer_in_the_group_can_use_the_scan_admin(staff_reviewer, team, owner):
    reviewers_group_ensure()
    scan = PredictionFactory(scan__patient=PatientFactory(team=team, created_by=owner)).scan
    client = Client()
    client.force_login(User.objects.get(pk=staff_reviewer.pk))
    response = client.get("/admin/scans/scan/")
    assert response.status_code == 200
    body = response.content.decode()
    assert f"/admin/scans/scan/{scan.pk}/change/" in body
    assert 'value="regenerate_explanation"' in body
    assert client.get("/admin/accounts/user/").status_code == 403


def test_making_a_user_a_reviewer_in_the_admin_adds_them_to_the_group(db):
    superuser = UserFactory(username="root", is_staff=True, is_superuser=True)
    clinician = UserFactory(username="newreviewer", is_staff=True)
    client = Client()
    client.force_login(superuser)
    form = {
        "username": "newreviewer",
        "role": "reviewer",
        "is_active": "on",
        "is_staff": "on",
        "date_joined_0": "2024-01-01",
        "date_joined_1": "00:00:00",
    }
    response = client.post(f"/admin/accounts/user/{clinician.pk}/change/", form)
    assert response.status_code == 302, response.content.decode()[:2000]
    assert clinician.groups.filter(name=REVIEWERS_GROUP).exists()
