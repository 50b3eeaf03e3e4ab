from datetime import timedelta

import pytest
from django.utils import timezone

from health import checks
from health.heartbeat import heartbeat_write
from health.models import WorkerHeartbeat
from tests.health.test_healthz import weights  # noqa: F401 (fixture)

pytestmark = pytest.mark.usefixtures("weights")


def beat(hostname: str, queues: list[str], seconds_ago: float = 0) -> None:
    heartbeat_write(hostname=hostname, queues=queues, started_at=timezone.now())
    WorkerHeartbeat.objects.filter(hostname=hostname).update(seen_at=timezone.now() - timedelta(seconds=seconds_ago))


def test_it_is_not_ready_before_any_ml_worker_was_seen(client, db):
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response["Retry-After"]
    assert response.json()["checks"]["workers:ml"].startswith("error")


def test_it_is_ready_with_a_fresh_ml_heartbeat_and_reports_each_queue(client, db):
    beat("ml@a", ["ml"], seconds_ago=3)
    beat("default@a", ["default"], seconds_ago=5)
    response = client.get("/readyz")
    assert response.status_code == 200
    queues = response.json()["queues"]
    assert queues["ml"]["workers"] == 1
    assert 2 <= queues["ml"]["heartbeat_age_s"] < 10
    assert queues["default"]["workers"] == 1
    assert isinstance(queues["ml"]["backlog"], int)


def test_a_worker_serving_both_queues_counts_for_both(client, db):
    beat("celery@laptop", ["ml", "default"])
    queues = client.get("/readyz").json()["queues"]
    assert queues["ml"]["workers"] == queues["default"]["workers"] == 1


def test_it_is_not_ready_when_the_only_ml_worker_went_silent_a_minute_ago(client, db, settings):
    beat("ml@a", ["ml"], seconds_ago=settings.WORKER_HEARTBEAT_STALE_AFTER + 1)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["queues"]["ml"]["workers"] == 0
    assert response.json()["queues"]["ml"]["heartbeat_age_s"] > 60


def test_a_heartbeat_updates_its_workers_row(db):
    beat("ml@a", ["ml"], seconds_ago=30)
    heartbeat_write(hostname="ml@a", queues=["ml"], started_at=timezone.now())
    row = WorkerHeartbeat.objects.get()
    assert (timezone.now() - row.seen_at).total_seconds() < 5


def test_the_backlog_counts_messages_waiting_in_the_queue(db):
    from config.celery_app import app

    before = checks.queues_status()["default"].backlog
    with app.connection_for_write() as conn:
        conn.default_channel.queue_declare(queue="default", durable=True, auto_delete=False)
        producer = conn.Producer()
        producer.publish({"x": 1}, routing_key="default", exchange="", declare=[])
        after = checks.queues_status()["default"].backlog
        conn.default_channel.queue_purge("default")
    assert after == (before or 0) + 1


def test_a_worker_that_reconnects_keeps_one_heartbeat_thread(db, monkeypatch):
    import threading
    from types import SimpleNamespace

    from health import heartbeat

    monkeypatch.setattr(heartbeat, "_beat", lambda hostname, queues: heartbeat._stop.wait(5))
    consumer = SimpleNamespace(
        hostname="ml@a", app=SimpleNamespace(amqp=SimpleNamespace(queues=SimpleNamespace(consume_from={"ml": None})))
    )
    try:
        heartbeat.start_heartbeat(consumer)
        heartbeat.start_heartbeat(consumer)  # the broker came back
        assert sum(1 for thread in threading.enumerate() if thread.name == "heartbeat") == 1
    finally:
        heartbeat._stop.set()
