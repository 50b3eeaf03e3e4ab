"""Regenerating an explanation: staff reviewers only, from the scan page or the admin; the old
explanation goes, the predictions stay, and explain_scan is queued after the commit."""

import pytest
from django.contrib.auth.models import Permission
from django.core.exceptions import ValidationError
from django.test import Client

from scans import tasks
from scans.models import Explanation, Scan
from scans.services import explanation_regenerate
from tests.factories import PatientFactory, PredictionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def queued(monkeypatch):
    sent = []
    monkeypatch.setattr(tasks.explain_scan, "delay", sent.append)
    return sent


@pytest.fixture
def scan(team, owner):
    scan = PredictionFactory(scan__patient=PatientFactory(team=team, created_by=owner)).scan
    Explanation.objects.create(scan=scan, provider="offline", status="done", content={"summary": "Old text."})
    return scan


def url(scan) -> str:
    return f"/scans/{scan.pk}/explanation/regenerate/"


def assert_untouched(scan) -> None:
    scan.refresh_from_db()
    assert scan.status == Scan.Status.DONE
    assert Explanation.objects.get(scan=scan).content == {"summary": "Old text."}


def test_it_replaces_the_explanation_and_keeps_the_predictions(
    scan, staff_reviewer, queued, django_capture_on_commit_callbacks
):
    prediction = scan.predictions.get()
    with django_capture_on_commit_callbacks(execute=True):
        explanation_regenerate(scan=scan, requested_by=staff_reviewer)
    scan.refresh_from_db()
    assert (scan.status, scan.finished_at) == (Scan.Status.CLASSIFIED, None)
    assert not Explanation.objects.filter(scan=scan).exists()
    assert list(scan.predictions.all()) == [prediction]
    assert queued == [scan.pk]


def test_a_regenerated_explanation_is_written_again(
    scan, staff_reviewer, django_capture_on_commit_callbacks, monkeypatch
):
    from scans import pipeline

    monkeypatch.setattr(tasks.explain_scan, "delay", pipeline.explain_scan)
    with django_capture_on_commit_callbacks(execute=True):
        explanation_regenerate(scan=scan, requested_by=staff_reviewer)
    scan.refresh_from_db()
    assert scan.status == Scan.Status.DONE
    assert scan.explanation.provider == "offline" and scan.explanation.content["summary"] != "Old text."


def test_only_staff_reviewers_may_regenerate(scan, owner, queued):
    with pytest.raises(ValidationError, match="Only staff reviewers"):
        explanation_regenerate(scan=scan, requested_by=owner)
    assert_untouched(scan)


def test_a_scan_still_in_progress_is_refused(scan, staff_reviewer, queued):
    Scan.objects.filter(pk=scan.pk).update(status=Scan.Status.CLASSIFIED)
    with pytest.raises(ValidationError, match="Only a finished scan"):
        explanation_regenerate(scan=scan, requested_by=staff_reviewer)
    assert queued == []


def test_the_scan_page_offers_the_button_to_staff_reviewers_only(scan, client, owner, staff_reviewer):
    client.force_login(owner)
    assert "Regenerate explanation" not in client.get(f"/scans/{scan.pk}/").content.decode()
    client.force_login(staff_reviewer)
    body = client.get(f"/scans/{scan.pk}/").content.decode()
    assert f'action="{url(scan)}"' in body and "Regenerate explanation" in body


def test_a_staff_reviewer_regenerates_from_the_scan_page(
    scan, client, staff_reviewer, queued, django_capture_on_commit_callbacks
):
    client.force_login(staff_reviewer)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url(scan))
    assert response.status_code == 302 and response["Location"] == f"/scans/{scan.pk}/"
    assert queued == [scan.pk]
    body = client.get(f"/scans/{scan.pk}/").content.decode()
    assert "Explanation pending." in body and "hx-trigger" in body


@pytest.mark.parametrize(("who", "status"), [("owner", 403), ("teammate", 403), ("outsider", 404)])
def test_others_are_refused(request, scan, client, queued, who, status):
    client.force_login(request.getfixturevalue(who))
    assert client.post(url(scan)).status_code == status
    assert_untouched(scan)
    assert queued == []


def test_an_outside_superuser_gets_a_404(scan, client, outside_superuser, queued):
    client.force_login(outside_superuser)
    assert client.post(url(scan)).status_code == 404
    assert_untouched(scan)


def test_anonymous_visitors_go_to_the_login_page(scan, client, queued):
    response = client.post(url(scan))
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    assert_untouched(scan)


def test_a_get_changes_nothing(scan, client, staff_reviewer, queued):
    client.force_login(staff_reviewer)
    assert client.get(url(scan)).status_code == 405
    assert_untouched(scan)


def test_the_admin_action_regenerates_through_the_service(
    scan, staff_reviewer, queued, django_capture_on_commit_callbacks
):
    staff_reviewer.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="scans", codename__regex=r"^(view|change)_")
    )
    admin = Client()
    admin.force_login(staff_reviewer)
    with django_capture_on_commit_callbacks(execute=True):
        response = admin.post("/admin/scans/scan/", {"action": "regenerate_explanation", "_selected_action": [scan.pk]})
    assert response.status_code == 302
    assert queued == [scan.pk]
    assert not Explanation.objects.filter(scan=scan).exists()


def test_the_admin_action_refuses_a_superuser_who_is_not_a_reviewer(scan, team, queued):
    from tests.factories import UserFactory

    superuser = UserFactory(username="root", is_staff=True, is_superuser=True, teams=[team])
    admin = Client()
    admin.force_login(superuser)
    response = admin.post(
        "/admin/scans/scan/", {"action": "regenerate_explanation", "_selected_action": [scan.pk]}, follow=True
    )
    assert "Only staff reviewers can regenerate explanations." in response.content.decode()
    assert_untouched(scan)
