from datetime import timedelta

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.utils import timezone
from kombu.exceptions import OperationalError

from config.celery_app import app
from scans import tasks
from scans.models import Scan
from scans.services import scan_submit
from tests.factories import PatientFactory, ScanFactory
from tests.images import png_bytes


@pytest.fixture
def sent(monkeypatch):
    """Scan ids handed to the broker, in order."""
    ids: list[int] = []
    monkeypatch.setattr(tasks.classify_scan, "delay", lambda scan_id: ids.append(scan_id))
    return ids


def submit(patient, user):
    return scan_submit(patient=patient, uploaded_by=user, file=SimpleUploadedFile("a.png", png_bytes()))


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("fake_weights")
def test_a_committed_upload_is_queued_once_after_commit(team, owner, sent):
    patient = PatientFactory(team=team, created_by=owner)
    with transaction.atomic():
        scan = submit(patient, owner)
        assert sent == []
    assert sent == [scan.pk]


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("fake_weights")
def test_a_rolled_back_upload_enqueues_nothing(team, owner, sent):
    patient = PatientFactory(team=team, created_by=owner)
    with pytest.raises(RuntimeError), transaction.atomic():
        submit(patient, owner)
        raise RuntimeError("the request failed after the upload")
    assert sent == []
    assert not Scan.objects.exists()


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("fake_weights")
def test_an_upload_succeeds_while_the_broker_is_down(team, owner, monkeypatch):
    def broker_down(scan_id):
        raise OperationalError("connection refused")

    monkeypatch.setattr(tasks.classify_scan, "delay", broker_down)
    scan = submit(PatientFactory(team=team, created_by=owner), owner)
    assert Scan.objects.get(pk=scan.pk).status == Scan.Status.QUEUED


def test_classification_goes_to_the_ml_queue():
    route = app.amqp.router.route({}, tasks.classify_scan.name)
    assert route["queue"].name == "ml"
    assert app.amqp.router.route({}, tasks.sweep_stuck_scans.name)["queue"].name == "default"


def test_the_classify_task_survives_a_worker_crash():
    assert tasks.classify_scan.acks_late is True
    assert tasks.classify_scan.reject_on_worker_lost is True
    assert app.conf.worker_prefetch_multiplier == 1


def test_time_limits_are_ordered_soft_hard_visibility_sweep():
    soft, hard = app.conf.task_soft_time_limit, app.conf.task_time_limit
    assert 0 < soft < hard < settings.CELERY_BROKER_VISIBILITY_TIMEOUT
    assert hard < settings.SCAN_STUCK_AFTER.total_seconds()


def test_the_sweep_is_scheduled():
    schedule = app.conf.beat_schedule["sweep-stuck-scans"]
    assert schedule["task"] == tasks.sweep_stuck_scans.name


@pytest.mark.django_db
def test_the_sweep_requeues_only_scans_stuck_for_too_long(sent):
    long_ago = timezone.now() - settings.SCAN_STUCK_AFTER - timedelta(seconds=1)
    stuck_queued = ScanFactory()
    stuck_processing = ScanFactory(status=Scan.Status.PROCESSING)
    fresh = ScanFactory()
    finished = ScanFactory(status=Scan.Status.DONE)
    Scan.objects.exclude(pk=fresh.pk).update(updated_at=long_ago)

    tasks.sweep_stuck_scans()

    assert sorted(sent) == sorted([stuck_queued.pk, stuck_processing.pk])
    assert finished.pk not in sent


@pytest.mark.django_db
def test_the_sweep_does_not_requeue_a_scan_twice_in_a_row(sent):
    scan = ScanFactory()
    Scan.objects.update(updated_at=timezone.now() - settings.SCAN_STUCK_AFTER - timedelta(seconds=1))
    tasks.sweep_stuck_scans()
    tasks.sweep_stuck_scans()
    assert sent == [scan.pk]
