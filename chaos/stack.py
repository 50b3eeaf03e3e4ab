"""The stack under test, as production runs it on one machine: gunicorn, an `ml` worker
(concurrency 1, the compose shape), a `default` worker, and beat — each in its own process
group, so that one can be SIGKILLed whole, pool processes included."""

import contextlib
import os
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parent.parent
BIN = REPO / ".venv" / "bin"
HOST, PORT = "127.0.0.1", int(os.environ.get("CHAOS_PORT", "8491"))
BASE_URL = f"http://{HOST}:{PORT}"
DATABASE_NAME = "chaos"
# Not db 0, which the test suite uses.
BROKER_URL = "redis://127.0.0.1:6379/3"


def stack_environment(workdir: Path) -> dict[str, str]:
    """Production settings, DEBUG off, offline explanations (no Gemini key)."""
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "DJANGO_SECRET_KEY": "chaos-only-" + os.urandom(24).hex(),
        "DJANGO_ALLOWED_HOSTS": HOST,
        "DJANGO_SECURE_SSL_REDIRECT": "false",
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{DATABASE_NAME}",
        "CELERY_BROKER_URL": BROKER_URL,
        "MEDIA_ROOT": str(workdir / "media"),
        "GEMINI_API_KEY": "",
        "GOOGLE_API_KEY": "",
        "LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
    }


# Background work yields the CPU to requests, as the kernel's scheduler is told to.
BACKGROUND_NICENESS = 10


def _lower_priority() -> None:
    os.nice(BACKGROUND_NICENESS)


# One core's worth of TensorFlow threads: the ml worker shares the machine with the web here.
ML_THREADS = {"OMP_NUM_THREADS": "1", "TF_NUM_INTRAOP_THREADS": "1", "TF_NUM_INTEROP_THREADS": "1"}

ROLES = {
    "web": [
        str(BIN / "gunicorn"), "config.wsgi:application", "--bind", f"{HOST}:{PORT}",
        "--workers", "3", "--worker-class", "gthread", "--threads", "4", "--timeout", "60",
    ],
    "ml": [
        str(BIN / "celery"), "-A", "config.celery_app", "worker", "--queues", "ml", "--concurrency", "1",
        "--hostname", "ml@chaos", "--without-mingle", "--without-gossip", "--loglevel", "WARNING",
    ],
    "default": [
        str(BIN / "celery"), "-A", "config.celery_app", "worker", "--queues", "default", "--concurrency", "2",
        "--hostname", "default@chaos", "--without-mingle", "--without-gossip", "--loglevel", "WARNING",
    ],
    "beat": [str(BIN / "celery"), "-A", "config.celery_app", "beat", "--loglevel", "WARNING"],
}  # fmt: skip


@dataclass
class Stack:
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="mri-chaos-")))
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    @property
    def env(self) -> dict[str, str]:
        if not hasattr(self, "_env"):
            self._env = stack_environment(self.workdir)
        return self._env

    def manage(self, *args: str) -> None:
        subprocess.run([str(BIN / "python"), "manage.py", *args], cwd=REPO, env=self.env, check=True)

    def start(self, role: str) -> None:
        command = ROLES[role]
        if role == "beat":
            command = [*command, "--schedule", str(self.workdir / "celerybeat-schedule")]
        log = (self.workdir / f"{role}.log").open("a")
        env = {**self.env, **ML_THREADS} if role == "ml" else self.env
        self.processes[role] = subprocess.Popen(
            command,
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            # Every role shares two cores here; on separate machines none would need it.
            preexec_fn=None if role == "web" else _lower_priority,
        )

    def kill(self, role: str, signum: int = signal.SIGKILL) -> None:
        """Signals the role's whole process group (a worker and its pool processes)."""
        process = self.processes.get(role)
        if process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signum)
        if signum == signal.SIGKILL:
            process.wait(timeout=10)

    def pool_children(self, role: str) -> list[int]:
        parent = self.processes[role].pid
        out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(parent)], capture_output=True, text=True).stdout
        return [int(pid) for pid in out.split()]

    def stop_all(self) -> None:
        for role in self.processes:
            self.kill(role, signal.SIGTERM)
        deadline = time.monotonic() + 8
        while time.monotonic() < deadline and any(p.poll() is None for p in self.processes.values()):
            time.sleep(0.2)
        for role in self.processes:
            self.kill(role, signal.SIGKILL)

    def wait_ready(self, seconds: float = 180) -> None:
        """Until /readyz says the database, broker, weights and an ml worker are there."""
        deadline = time.monotonic() + seconds
        last = ""
        while time.monotonic() < deadline:
            try:
                response = requests.get(f"{BASE_URL}/readyz", timeout=5)
                if response.status_code == 200:
                    return
                last = response.text
            except requests.RequestException as error:
                last = str(error)
            time.sleep(1)
        raise RuntimeError(f"the stack did not become ready: {last}")

    def log_tail(self, role: str, lines: int = 30) -> str:
        path = self.workdir / f"{role}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""
