from datetime import timedelta
from types import SimpleNamespace

import pytest
from celery.exceptions import Reject
from django import db
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.utils import timezone
from kombu.exceptions import OperationalError

from config.celery_app import app
from scans import pipeline, sweep, tasks
from scans.models import Scan
from scans.services import scan_submit
from tests.factories import PatientFactory, ScanFactory
from tests.images import png_bytes


@pytest.fixture
def sent(monkeypatch):
    """Scan ids handed to the broker, in order."""
    ids: list[int] = []
    monkeypatch.setattr(tasks.classify_scan, "delay", lambda scan_id, **kwargs: ids.append(scan_id))
    return ids


@pytest.fixture(autouse=True)
def backlog(monkeypatch):
    """What the broker says waits in each queue; empty: it could not say."""
    waiting: dict[str, int] = {}
    monkeypatch.setattr(tasks, "queue_backlogs", lambda: waiting)
    return waiting


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


def test_time_limits_are_ordered_soft_hard_stale_claim_visibility():
    soft, hard = app.conf.task_soft_time_limit, app.conf.task_time_limit
    assert 0 < soft < hard < settings.SCAN_CLAIM_STALE_AFTER.total_seconds()
    assert hard < settings.CELERY_BROKER_VISIBILITY_TIMEOUT


def test_a_dead_workers_scan_is_sent_again_within_two_minutes():
    # RELIABILITY.md 22: the claim goes stale, then the next sweep re-sends it.
    worst_case = settings.SCAN_CLAIM_STALE_AFTER.total_seconds() + settings.SCAN_SWEEP_SECONDS
    assert worst_case < 120
    assert settings.CELERY_BROKER_VISIBILITY_TIMEOUT + 5 < 120


def test_a_lost_message_is_sent_again_within_a_minute():
    assert settings.SCAN_RESEND_AFTER.total_seconds() + settings.SCAN_SWEEP_SECONDS < 60


def test_the_sweep_is_scheduled_every_few_seconds_and_never_runs_late():
    schedule = app.conf.beat_schedule["sweep-stuck-scans"]
    assert schedule["task"] == tasks.sweep_stuck_scans.name
    assert schedule["schedule"] <= 10
    assert schedule["options"]["expires"] <= schedule["schedule"]


def age(scans, seconds: float) -> None:
    Scan.objects.filter(pk__in=[s.pk for s in scans]).update(updated_at=timezone.now() - timedelta(seconds=seconds))


@pytest.mark.django_db
def test_the_sweep_resends_a_scan_queued_for_longer_than_the_resend_delay(sent):
    old, _fresh, finished = ScanFactory(), ScanFactory(), ScanFactory(status=Scan.Status.DONE)
    age([old, finished], settings.SCAN_RESEND_AFTER.total_seconds() + 1)

    tasks.sweep_stuck_scans()

    assert sent == [old.pk]


@pytest.mark.django_db
def test_the_sweep_resends_a_processing_scan_only_once_its_claim_is_stale(sent):
    live = ScanFactory(status=Scan.Status.PROCESSING)
    dead = ScanFactory(status=Scan.Status.PROCESSING)
    age([live], settings.SCAN_RESEND_AFTER.total_seconds() + 1)
    age([dead], settings.SCAN_CLAIM_STALE_AFTER.total_seconds() + 1)

    tasks.sweep_stuck_scans()

    assert sent == [dead.pk]


@pytest.mark.django_db
def test_the_sweep_does_not_resend_a_scan_twice_in_a_row(sent):
    scan = ScanFactory()
    age([scan], settings.SCAN_RESEND_AFTER.total_seconds() + 1)
    tasks.sweep_stuck_scans()
    tasks.sweep_stuck_scans()
    assert sent == [scan.pk]


@pytest.mark.django_db
def test_the_sweep_leaves_queued_scans_whose_messages_still_wait_in_the_queue(sent, backlog):
    scans = [ScanFactory() for _ in range(3)]
    age(scans, settings.SCAN_RESEND_AFTER.total_seconds() + 1)
    backlog["ml"] = 3
    tasks.sweep_stuck_scans()
    assert sent == []


@pytest.mark.django_db
def test_the_sweep_resends_only_as_many_of_the_oldest_as_have_no_message(sent, backlog):
    oldest, older, old = ScanFactory(), ScanFactory(), ScanFactory()
    age([oldest, older, old], settings.SCAN_RESEND_AFTER.total_seconds() + 1)
    backlog["ml"] = 1
    tasks.sweep_stuck_scans()
    assert sent == [oldest.pk, older.pk]


@pytest.mark.django_db
def test_a_dead_claim_is_resent_whatever_waits_in_the_queue(sent, backlog):
    dead = ScanFactory(status=Scan.Status.PROCESSING)
    age([dead], settings.SCAN_CLAIM_STALE_AFTER.total_seconds() + 1)
    backlog["ml"] = 100
    tasks.sweep_stuck_scans()
    assert sent == [dead.pk]


@pytest.mark.django_db
def test_the_sweep_marks_what_it_sends_as_resent(monkeypatch):
    calls = []
    monkeypatch.setattr(tasks.classify_scan, "delay", lambda *args, **kwargs: calls.append((args, kwargs)))
    scan = ScanFactory()
    age([scan], settings.SCAN_RESEND_AFTER.total_seconds() + 1)
    tasks.sweep_stuck_scans()
    assert calls == [((scan.pk,), {"resent": True})]


@pytest.mark.django_db
def test_the_sweep_just_ends_when_the_database_is_away(sent, monkeypatch):
    def database_down(**kwargs):
        raise db.OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(sweep, "stuck_scans_claim", database_down)
    tasks.sweep_stuck_scans()
    assert sent == []


@pytest.mark.django_db
def test_a_resent_message_leaves_a_scan_that_a_live_run_holds():
    scan = ScanFactory(status=Scan.Status.PROCESSING, attempts=1, started_at=timezone.now())
    assert pipeline._claim(scan.pk, resent=True) is None
    assert Scan.objects.get(pk=scan.pk).attempts == 1


@pytest.mark.django_db
def test_a_resent_message_takes_over_a_stale_claim():
    started = timezone.now() - settings.SCAN_CLAIM_STALE_AFTER - timedelta(seconds=1)
    scan = ScanFactory(status=Scan.Status.PROCESSING, attempts=1, started_at=started)
    assert pipeline._claim(scan.pk, resent=True) is not None
    assert Scan.objects.get(pk=scan.pk).attempts == 2


@pytest.mark.django_db
def test_a_redelivered_message_takes_over_a_fresh_claim():
    # reject_on_worker_lost: the pool process that held it died a moment ago.
    scan = ScanFactory(status=Scan.Status.PROCESSING, attempts=1, started_at=timezone.now())
    assert pipeline._claim(scan.pk) is not None


@pytest.fixture
def no_waiting(monkeypatch):
    waits: list[float] = []
    monkeypatch.setattr(tasks.time, "sleep", waits.append)
    return waits


def flaky(failures: int, error: Exception):
    calls = []

    def step(scan_id, **kwargs):
        calls.append(scan_id)
        if len(calls) <= failures:
            raise error

    step.calls = calls
    return step


@pytest.mark.django_db
@pytest.mark.parametrize(
    "error", [db.OperationalError("the database system is shutting down"), db.InterfaceError("connection closed")]
)
def test_a_database_blip_is_retried_with_back_off_not_dropped(monkeypatch, no_waiting, error):
    scan = ScanFactory()
    step = flaky(3, error)
    monkeypatch.setattr(pipeline, "classify_scan", step)
    tasks.classify_scan.run(scan.pk)
    assert step.calls == [scan.pk] * 4
    assert no_waiting == [1.0, 2.0, 4.0]


@pytest.mark.django_db
def test_a_long_outage_hands_the_message_back_to_the_queue(monkeypatch, no_waiting):
    scan = ScanFactory()
    monkeypatch.setattr(pipeline, "classify_scan", flaky(1000, db.OperationalError("connection refused")))
    with pytest.raises(Reject) as rejected:
        tasks.classify_scan.run(scan.pk)
    assert rejected.value.requeue is True
    assert sum(no_waiting) <= tasks.RETRY_BUDGET_SECONDS


# An explanation's database blip: tests/scans/test_explain_scan.py.


def worker_serving(queues: list[str]) -> SimpleNamespace:
    """What celeryd_after_setup hands over: the worker, with the queues it consumes."""
    return SimpleNamespace(
        app=SimpleNamespace(amqp=SimpleNamespace(queues=SimpleNamespace(consume_from=dict.fromkeys(queues))))
    )


@pytest.mark.parametrize(("queues", "loads"), [(["default"], False), (["ml"], True), (["ml", "default"], True)])
def test_only_a_worker_that_serves_ml_loads_the_models(monkeypatch, queues, loads):
    loaded = []
    monkeypatch.setattr(pipeline, "engines_preload", lambda: loaded.append(True))
    monkeypatch.setitem(tasks._serves_ml, "value", True)
    tasks.note_the_queues_this_worker_serves(sender="worker@test", instance=worker_serving(queues))
    tasks.load_models_in_each_worker_process()
    assert bool(loaded) is loads
