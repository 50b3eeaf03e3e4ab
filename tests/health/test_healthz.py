import pytest
from celery import Celery
from django.db import OperationalError

from health import checks
from scans.ml import registry
from scans.ml.errors import WeightsError


@pytest.fixture
def weights(monkeypatch, tmp_path):
    """Controls what the registry reports, per model: "ok", "absent" or "corrupt"."""
    state = {"custom_cnn": "ok", "xception": "absent"}
    checks._verified.clear()

    class Spec:
        def __init__(self, name):
            self.weights_path = tmp_path / f"{name}.weights.h5"
            if not self.weights_path.exists():
                self.weights_path.write_bytes(name.encode())

    def verify(name):
        if state[name] == "corrupt":
            raise WeightsError(f"weights/{name}.weights.h5 does not match its card (sha256)")
        return "a" * 64

    monkeypatch.setattr(registry, "weights_available", lambda name: state[name] != "absent")
    monkeypatch.setattr(registry, "get_spec", Spec)
    monkeypatch.setattr(registry, "verify_weights", verify)
    return state


def test_it_is_healthy_with_database_broker_and_default_weights(client, db, weights):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["checks"] == {
        "database": "ok",
        "broker": "ok",
        "weights:custom_cnn": "ok",
        "weights:xception": "not installed",
    }


def test_a_corrupted_weights_file_makes_it_unhealthy_with_the_reason(client, db, weights):
    weights["custom_cnn"] = "corrupt"
    response = client.get("/healthz")
    assert response.status_code == 503
    assert "does not match its card" in response.json()["checks"]["weights:custom_cnn"]


def test_missing_default_weights_make_it_unhealthy(client, db, weights):
    weights["custom_cnn"] = "absent"
    assert client.get("/healthz").status_code == 503


def test_an_unreachable_broker_makes_it_unhealthy(client, db, weights, monkeypatch):
    # Celery lets CELERY_BROKER_URL in the environment override the app's own setting.
    monkeypatch.setenv("CELERY_BROKER_URL", "redis://127.0.0.1:1/0")
    # Not set as current: shared tasks in later tests would be sent through it.
    unreachable = Celery(broker="redis://127.0.0.1:1/0", set_as_current=False)
    unreachable.conf.broker_transport_options = {"socket_connect_timeout": 1}
    monkeypatch.setattr(checks, "celery_app", unreachable)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response["Retry-After"]
    assert response.json()["checks"]["broker"].startswith("error")


def test_it_hashes_a_weights_file_once_not_on_every_poll(client, db, weights, monkeypatch):
    calls = []
    verify = registry.verify_weights
    monkeypatch.setattr(registry, "verify_weights", lambda name: calls.append(name) or verify(name))
    client.get("/healthz")
    client.get("/healthz")
    assert calls == ["custom_cnn"]


def test_an_unreachable_database_makes_it_unhealthy_not_an_error(client, db, weights, monkeypatch):
    def database_down():
        raise OperationalError("connection refused")

    monkeypatch.setattr(checks, "database_check", database_down)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["checks"]["database"] == "error: OperationalError"


def test_a_real_weights_file_with_one_byte_changed_makes_it_unhealthy(client, db, monkeypatch, tmp_path):
    # No registry function is replaced here: the committed files, copied, one byte flipped.
    import shutil

    for source in registry.WEIGHTS_DIR.glob("custom_cnn.*"):
        shutil.copyfile(source, tmp_path / source.name)
    weights = tmp_path / "custom_cnn.weights.h5"
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0xFF
    weights.write_bytes(bytes(data))
    monkeypatch.setattr(registry, "WEIGHTS_DIR", tmp_path)
    checks._verified.clear()

    response = client.get("/healthz")
    assert response.status_code == 503
    assert "does not match its card" in response.json()["checks"]["weights:custom_cnn"]
    checks._verified.clear()
