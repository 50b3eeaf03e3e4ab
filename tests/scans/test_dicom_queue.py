"""A series must not starve other users: its slices go to the ml queue behind single uploads."""

import uuid

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from kombu import Connection, Exchange, Queue

from scans import tasks
from scans.uploads import dicom_upload_submit
from tests.conftest import require
from tests.dicom_files import dicom_bytes, mr_dataset, ramp, zipped
from tests.factories import PatientFactory

REDIS_URL = "redis://127.0.0.1:6379/15"


@pytest.fixture
def sent(monkeypatch):
    calls = []
    monkeypatch.setattr(tasks.classify_scan, "delay", lambda *a, **k: calls.append(("normal", a)))
    monkeypatch.setattr(
        tasks.classify_scan, "apply_async", lambda args, priority: calls.append((f"priority {priority}", args))
    )
    return calls


def submit(owner, team, data: bytes):
    patient = PatientFactory(team=team, created_by=owner)
    return dicom_upload_submit(
        patient=patient, uploaded_by=owner, file=SimpleUploadedFile("x", data), identifiers_differ_ok=True
    )


@pytest.mark.usefixtures("fake_weights")
def test_the_slices_of_a_series_are_sent_at_the_series_priority(owner, team, sent, django_capture_on_commit_callbacks):
    files = {f"IM{i}": dicom_bytes(mr_dataset(ramp(), InstanceNumber=i)) for i in range(3)}
    with django_capture_on_commit_callbacks(execute=True):
        upload = submit(owner, team, zipped(files))
    assert sent == [(f"priority {tasks.SERIES_PRIORITY}", (scan.pk,)) for scan in upload.scans]


@pytest.mark.usefixtures("fake_weights")
def test_a_single_slice_is_sent_like_a_png(owner, team, sent, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        upload = submit(owner, team, dicom_bytes(mr_dataset(ramp())))
    assert sent == [("normal", (upload.scans[0].pk,))]


def test_on_redis_a_single_upload_overtakes_a_waiting_series():
    """Kombu keeps one Redis list per priority step and serves the lowest first."""
    try:
        connection = Connection(REDIS_URL, transport_options={"socket_connect_timeout": 2})
        connection.ensure_connection(max_retries=1)
    except Exception as error:
        require(False, f"Redis is unreachable at {REDIS_URL} ({error})")
    queue = Queue(f"priority-test-{uuid.uuid4().hex}", Exchange("priority-test", type="direct"), routing_key="ml")
    with connection:
        producer = connection.Producer()
        for index in range(3):
            producer.publish(
                {"slice": index},
                exchange=queue.exchange,
                routing_key="ml",
                declare=[queue],
                priority=tasks.SERIES_PRIORITY,
            )
        producer.publish({"single": True}, exchange=queue.exchange, routing_key="ml", declare=[queue])
        received = []
        with connection.SimpleQueue(queue) as simple:
            for _ in range(4):
                message = simple.get(timeout=5)
                received.append(message.payload)
                message.ack()
        queue(connection.default_channel).delete()
    assert received[0] == {"single": True}
    assert received[1:] == [{"slice": 0}, {"slice": 1}, {"slice": 2}]
