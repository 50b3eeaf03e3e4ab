"""An upload batch notifies its uploader once, when its last scan ends: counts and a link, never
a name or record number; email only for those who want it."""

import uuid
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from notifications.batches import batch_close_by_key, batch_record, batches_sweep, scan_finished
from notifications.models import Notification, UploadBatch
from notifications.services import email_preference_set
from scans.models import Scan
from tests.factories import PatientFactory, PredictionFactory, ScanFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def uploader(owner):
    owner.email = "owner@example.org"
    owner.save()
    return owner


@pytest.fixture
def patient(team, uploader):
    return PatientFactory(team=team, created_by=uploader, display_name="Grace Hopper", medical_record_number="MRN-777")


def queued_scans(patient, n):
    return [ScanFactory(patient=patient) for _ in range(n)]


def finish(scan, status=Scan.Status.DONE, **prediction):
    if status == Scan.Status.DONE:
        PredictionFactory(scan=scan, **prediction)
    Scan.objects.filter(pk=scan.pk).update(status=status)
    scan_finished(scan_id=scan.pk)


def test_a_batch_notifies_once_when_its_last_scan_ends(patient, uploader, django_capture_on_commit_callbacks):
    scans = queued_scans(patient, 3)
    batch_record(uploaded_by=uploader, scans=scans)

    with django_capture_on_commit_callbacks(execute=True):
        finish(scans[0])
        finish(scans[1], status=Scan.Status.FAILED)
        assert not Notification.objects.exists()
        finish(scans[2], uncertain=True)
        scan_finished(scan_id=scans[2].pk)  # a second delivery of the last step

    [notification] = Notification.objects.all()
    assert notification.recipient == uploader
    assert notification.message == "Your upload of 3 scans is finished: 2 done (1 uncertain), 1 failed."
    assert notification.link == f"/patients/{patient.pk}/"
    assert len(mail.outbox) == 1


def test_the_email_has_counts_and_a_link_and_no_patient_identifier(
    patient, uploader, django_capture_on_commit_callbacks
):
    scans = queued_scans(patient, 2)
    batch_record(uploaded_by=uploader, scans=scans)

    with django_capture_on_commit_callbacks(execute=True):
        for scan in scans:
            finish(scan)

    [email] = mail.outbox
    assert email.to == ["owner@example.org"]
    assert email.subject == "Your upload of 2 scans is finished"
    assert f"http://localhost:8000/patients/{patient.pk}/" in email.body
    for identifier in ("Grace", "Hopper", "MRN-777", "scan.png"):
        assert identifier not in email.subject + email.body


def test_a_user_who_turned_email_off_gets_the_notification_only(patient, uploader, django_capture_on_commit_callbacks):
    email_preference_set(user=uploader, email_when_batch_done=False)
    [scan] = queued_scans(patient, 1)
    batch_record(uploaded_by=uploader, scans=[scan])

    with django_capture_on_commit_callbacks(execute=True):
        finish(scan)

    assert Notification.objects.count() == 1
    assert mail.outbox == []


def test_an_open_batch_waits_for_its_close_even_when_its_scans_are_done(patient, uploader):
    key = uuid.uuid4()
    first, second = queued_scans(patient, 2)
    batch_record(uploaded_by=uploader, scans=[first], key=key)
    finish(first)
    batch_record(uploaded_by=uploader, scans=[second], key=key)
    finish(second)
    assert not Notification.objects.exists()

    assert batch_close_by_key(uploaded_by=uploader, key=key)

    [notification] = Notification.objects.all()
    assert notification.message.startswith("Your upload of 2 scans")


def test_a_key_names_only_the_users_own_batch(patient, uploader, outsider):
    key = uuid.uuid4()
    batch_record(uploaded_by=uploader, scans=queued_scans(patient, 1), key=key)

    assert not batch_close_by_key(uploaded_by=outsider, key=key)
    assert UploadBatch.objects.get(key=key).closed_at is None


def test_the_sweep_closes_a_batch_left_open_and_sends_what_was_missed(patient, uploader, settings):
    key = uuid.uuid4()
    [scan] = queued_scans(patient, 1)
    batch_record(uploaded_by=uploader, scans=[scan], key=key)
    finish(scan)
    UploadBatch.objects.update(last_added_at=timezone.now() - settings.UPLOAD_BATCH_IDLE_CLOSE - timedelta(seconds=1))

    batches_sweep()

    assert Notification.objects.count() == 1


def test_scans_from_several_patients_link_to_the_scan_list(team, patient, uploader):
    other = PatientFactory(team=team, created_by=uploader)
    scans = [ScanFactory(patient=patient), ScanFactory(patient=other)]
    batch_record(uploaded_by=uploader, scans=scans)

    for scan in scans:
        finish(scan)

    assert Notification.objects.get().link == "/scans/"


def test_a_refused_scan_is_counted_as_not_recognised(patient, uploader):
    [scan] = queued_scans(patient, 1)
    batch_record(uploaded_by=uploader, scans=[scan])

    finish(scan, refused=True)

    assert Notification.objects.get().message == (
        "Your upload of 1 scan is finished: 1 done (1 not recognised as brain MRI)."
    )
