"""The admin and the audit trail: patient and scan pages are recorded, a re-run is recorded
and needs the change permission, each patient has an access log, and the trail is read-only
for everyone, superusers included."""

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from accounts.models import User
from audit.models import AuditEvent
from scans.models import Scan
from tests.factories import PatientFactory, PredictionFactory, UserFactory

pytestmark = pytest.mark.django_db


def _admin_client(user, *codename_prefixes):
    user.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label="scans", codename__regex=rf"^({'|'.join(codename_prefixes)})_"
        )
    )
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def reviewer_admin(staff_reviewer):
    return _admin_client(staff_reviewer, "view", "change")


@pytest.fixture
def view_only_staff(team):
    """A reviewer by role whose admin account may only view: the admin must refuse the action."""
    return UserFactory(username="viewer", role=User.Role.REVIEWER, is_staff=True, teams=[team])


@pytest.fixture
def prediction(team, owner):
    return PredictionFactory(scan__patient=PatientFactory(team=team, created_by=owner))


def test_opening_a_patient_in_the_admin_is_recorded(reviewer_admin, staff_reviewer, prediction):
    patient = prediction.scan.patient
    assert reviewer_admin.get(f"/admin/scans/patient/{patient.pk}/change/").status_code == 200
    event = AuditEvent.objects.get()
    assert (event.actor, event.action, event.object_type, event.patient_id) == (
        staff_reviewer,
        "view",
        "patient",
        patient.pk,
    )


def test_changing_a_patient_in_the_admin_is_recorded(reviewer_admin, prediction):
    patient = prediction.scan.patient
    form = {
        "team": patient.team_id,
        "medical_record_number": patient.medical_record_number,
        "display_name": "Renamed",
        "sex": "",
        "birth_year": "",
        "notes": "",
        "scans-TOTAL_FORMS": "1",
        "scans-INITIAL_FORMS": "1",
        "scans-MIN_NUM_FORMS": "0",
        "scans-MAX_NUM_FORMS": "0",
        "scans-0-id": prediction.scan_id,
        "scans-0-patient": patient.pk,
    }
    response = reviewer_admin.post(f"/admin/scans/patient/{patient.pk}/change/", form)
    assert response.status_code == 302, response.context["errors"] if response.context else response
    assert AuditEvent.objects.filter(action="change", object_type="patient", patient_id=patient.pk).exists()


def test_opening_a_scan_in_the_admin_is_recorded(reviewer_admin, prediction):
    assert reviewer_admin.get(f"/admin/scans/scan/{prediction.scan_id}/change/").status_code == 200
    assert AuditEvent.objects.filter(action="view", object_type="scan", object_id=str(prediction.scan_id)).exists()


def test_a_rerun_from_the_admin_is_recorded(reviewer_admin, staff_reviewer, prediction, monkeypatch):
    from scans import tasks

    monkeypatch.setattr(tasks, "enqueue_classification", lambda scan_id: None)
    reviewer_admin.post("/admin/scans/scan/", {"action": "rerun_classification", "_selected_action": [prediction.scan_id]})
    event = AuditEvent.objects.get(action="rerun")
    assert (event.actor, event.object_id, event.patient_id) == (
        staff_reviewer,
        str(prediction.scan_id),
        prediction.scan.patient_id,
    )


def test_a_view_only_staff_account_cannot_rerun_and_wipe_results(view_only_staff, prediction):
    client = _admin_client(view_only_staff, "view")
    response = client.post(
        "/admin/scans/scan/", {"action": "rerun_classification", "_selected_action": [prediction.scan_id]}
    )
    assert response.status_code in (200, 302, 403)
    scan = Scan.objects.get(pk=prediction.scan_id)
    assert (scan.status, scan.predictions.count()) == (Scan.Status.DONE, 1)
    assert not AuditEvent.objects.filter(action="rerun").exists()


def test_the_team_filter_lists_only_the_users_teams(reviewer_admin, prediction, other_team):
    PatientFactory(team=other_team)
    body = reviewer_admin.get("/admin/scans/patient/").content.decode()
    assert "Neuro A" in body
    assert "Neuro B" not in body


def test_a_patient_has_an_access_log_of_its_own_events(reviewer_admin, staff_reviewer, prediction, other_team):
    patient = prediction.scan.patient
    stranger = PatientFactory(team=other_team)
    reviewer_admin.get(f"/admin/scans/patient/{patient.pk}/change/")
    AuditEvent.objects.create(actor=staff_reviewer, action="view", object_type="patient", object_id="x", patient_id=stranger.pk)

    page = reviewer_admin.get(f"/admin/scans/patient/{patient.pk}/change/").content.decode()
    assert f"/admin/audit/auditevent/?patient_id={patient.pk}" in page
    log = reviewer_admin.get(f"/admin/audit/auditevent/?patient_id={patient.pk}")
    assert log.status_code == 200
    assert [e.patient_id for e in log.context["cl"].result_list] == [patient.pk]
    # Another team's patient's log shows nothing to this reviewer.
    other = reviewer_admin.get(f"/admin/audit/auditevent/?patient_id={stranger.pk}")
    assert list(other.context["cl"].result_list) == []


def test_even_a_superuser_cannot_change_or_delete_an_event_in_the_admin(prediction, owner):
    event = AuditEvent.objects.create(actor=owner, action="view", object_type="scan", object_id="1")
    superuser = UserFactory(username="root", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(superuser)

    assert client.get(f"/admin/audit/auditevent/{event.pk}/change/").status_code == 200  # read-only view
    client.post(f"/admin/audit/auditevent/{event.pk}/change/", {"action": "create"})
    assert client.post(f"/admin/audit/auditevent/{event.pk}/delete/", {"post": "yes"}).status_code == 403
    client.post(
        "/admin/audit/auditevent/", {"action": "delete_selected", "_selected_action": [event.pk], "post": "yes"}
    )
    assert client.get("/admin/audit/auditevent/add/").status_code == 403
    event.refresh_from_db()
    assert (AuditEvent.objects.count(), event.action) == (1, "view")


def test_deleting_a_patient_in_the_admin_is_recorded_before_it_goes(team, owner, prediction):
    superuser = UserFactory(username="team-root", is_staff=True, is_superuser=True, teams=[team])
    client = Client()
    client.force_login(superuser)
    patient = prediction.scan.patient

    response = client.post(f"/admin/scans/patient/{patient.pk}/delete/", {"post": "yes"})

    assert response.status_code == 302
    event = AuditEvent.objects.get(action="delete")
    assert (event.actor, event.object_type, event.patient_id) == (superuser, "patient", patient.pk)


def test_deleting_patients_in_bulk_in_the_admin_records_each(team, owner, prediction):
    superuser = UserFactory(username="team-root", is_staff=True, is_superuser=True, teams=[team])
    client = Client()
    client.force_login(superuser)
    patients = [prediction.scan.patient, PatientFactory(team=team, created_by=owner)]

    client.post(
        "/admin/scans/patient/",
        {"action": "delete_selected", "_selected_action": [p.pk for p in patients], "post": "yes"},
    )

    deleted = sorted(AuditEvent.objects.filter(action="delete").values_list("patient_id", flat=True))
    assert deleted == sorted(p.pk for p in patients)


def test_adding_a_patient_in_the_admin_is_recorded_as_a_creation(team, owner):
    superuser = UserFactory(username="team-root", is_staff=True, is_superuser=True, teams=[team])
    client = Client()
    client.force_login(superuser)
    form = {
        "team": team.pk,
        "medical_record_number": "ADM-NEW",
        "display_name": "Added In Admin",
        "sex": "",
        "birth_year": "",
        "notes": "",
        "scans-TOTAL_FORMS": "0",
        "scans-INITIAL_FORMS": "0",
        "scans-MIN_NUM_FORMS": "0",
        "scans-MAX_NUM_FORMS": "0",
    }

    response = client.post("/admin/scans/patient/add/", form)

    assert response.status_code == 302
    event = AuditEvent.objects.get()
    assert (event.actor, event.action, event.object_type) == (superuser, "create", "patient")
