"""What the experiments send and read: uploads and health checks over HTTP (as a client
would), scan states straight from PostgreSQL (as an operator would)."""

import statistics
import threading
import time
from dataclasses import dataclass, field

import psycopg
import requests

from chaos.stack import BASE_URL, DATABASE_NAME

FINISHED = ("done", "failed")
# A user, team and patient made once per run, through the services the site itself uses.
SETUP_SCRIPT = """
from accounts.models import Team, User
from scans.services import patient_create
team = Team.objects.create(name="Chaos")
user = User.objects.create_user(username="chaos", password="chaos-Only-4-Experiments")
team.members.add(user)
patient = patient_create(team=team, created_by=user, medical_record_number="CHAOS-1", display_name="Chaos")
print(patient.pk)
"""
USERNAME, PASSWORD = "chaos", "chaos-Only-4-Experiments"


@dataclass
class Upload:
    status: int  # HTTP status; 0 when the connection itself failed
    ms: float
    scan_id: int | None
    good: bool  # a real MRI slice (True) or one of the hostile images


@dataclass
class Timings:
    ms: list[float] = field(default_factory=list)

    def add(self, ms: float) -> None:
        self.ms.append(ms)

    def percentile(self, p: float) -> float | None:
        if not self.ms:
            return None
        if len(self.ms) == 1:
            return self.ms[0]
        return statistics.quantiles(self.ms, n=100, method="inclusive")[int(p) - 1]


class Client:
    def __init__(self, patient_id: int) -> None:
        self.patient_id = patient_id
        response = requests.post(
            f"{BASE_URL}/api/v1/auth/token/", data={"username": USERNAME, "password": PASSWORD}, timeout=30
        )
        response.raise_for_status()
        self.token = response.json()["token"]
        self.local = threading.local()

    def _session(self) -> requests.Session:
        if not hasattr(self.local, "session"):
            self.local.session = requests.Session()
            self.local.session.headers["Authorization"] = f"Token {self.token}"
        return self.local.session

    def upload(self, data: bytes, *, good: bool, name: str = "slice.png") -> Upload:
        started = time.perf_counter()
        try:
            response = self._session().post(
                f"{BASE_URL}/api/v1/patients/{self.patient_id}/scans/", files={"image": (name, data)}, timeout=60
            )
        except requests.RequestException:
            return Upload(0, (time.perf_counter() - started) * 1000, None, good)
        ms = (time.perf_counter() - started) * 1000
        scan_id = response.json().get("id") if response.status_code == 202 else None
        return Upload(response.status_code, ms, scan_id, good)

    def healthz(self) -> tuple[int, float]:
        started = time.perf_counter()
        try:
            status = self._session().get(f"{BASE_URL}/healthz", timeout=10).status_code
        except requests.RequestException:
            status = 0
        return status, (time.perf_counter() - started) * 1000


class HealthProbe:
    """Polls /healthz every `interval` seconds in a thread while an experiment runs."""

    def __init__(self, client: Client, interval: float = 0.2) -> None:
        self.client, self.interval = client, interval
        self.timings, self.statuses = Timings(), []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            status, ms = self.client.healthz()
            self.statuses.append(status)
            self.timings.add(ms)
            self._stop.wait(self.interval)

    def __enter__(self) -> "HealthProbe":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=15)


class Rows:
    """Scan states read from the stack's database, reconnecting after an outage."""

    def __init__(self) -> None:
        self.dsn = f"postgresql://postgres@127.0.0.1:5432/{DATABASE_NAME}"
        self.conn = None

    def states(self, ids: list[int]) -> dict[int, str]:
        for _ in range(3):
            try:
                if self.conn is None or self.conn.closed:
                    self.conn = psycopg.connect(self.dsn, autocommit=True, connect_timeout=3)
                rows = self.conn.execute("SELECT id, status FROM scans_scan WHERE id = ANY(%s)", (ids,)).fetchall()
                return dict(rows)
            except psycopg.Error:
                self.conn = None
                time.sleep(0.5)
        return {}

    def wait_finished(self, ids: list[int], seconds: float) -> float | None:
        """Seconds until every scan is done or failed; None if some are not by the deadline."""
        started = time.monotonic()
        while time.monotonic() - started < seconds:
            states = self.states(ids)
            if len(states) == len(set(ids)) and all(state in FINISHED for state in states.values()):
                return time.monotonic() - started
            time.sleep(0.25)
        return None

    def wait_for_state(self, ids: list[int], state: str, seconds: float) -> int | None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            for scan_id, current in self.states(ids).items():
                if current == state:
                    return scan_id
            time.sleep(0.02)
        return None
