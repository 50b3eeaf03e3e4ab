"""Runs the portal's processes on one machine and keeps them running: `make run` and `make dev`.

    supervise.py [--dev]

Production shape (`make run`): gunicorn with DEBUG off, and one Celery worker that consumes
both queues and runs beat (the stuck-scan sweep). `--dev`: runserver with autoreload and
DEBUG instead of gunicorn. A process that dies is started again and the supervisor says so.
Ctrl-C or SIGTERM stops everything within STOP_SECONDS, children's children included: each
process runs in its own process group, which is signalled as a whole, and is told by the
kernel to stop if the supervisor itself is killed.
"""

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BIN = REPO / ".venv" / "bin"
# SIGTERM first (gunicorn and Celery finish what they are doing); what is still alive after
# GRACE_SECONDS is killed. A classification cut short is redelivered or swept: nothing is lost.
GRACE_SECONDS = 5.0
STOP_SECONDS = 8.0
# A process that dies sooner than this after starting is restarted with growing pauses.
CRASH_LOOP_SECONDS = 10.0
PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child, before exec: the kernel sends SIGTERM if the supervisor dies."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass
class Child:
    name: str
    command: list[str]
    process: subprocess.Popen | None = None
    started: float = 0.0
    pause: float = 1.0
    restart_at: float | None = field(default=None)

    def start(self) -> None:
        self.process = subprocess.Popen(self.command, cwd=REPO, start_new_session=True, preexec_fn=_die_with_parent)
        self.started = time.monotonic()
        self.restart_at = None

    def signal(self, signum: int) -> None:
        """Signals the whole group, even when its leader is gone and only its children are left."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signum)

    def group_alive(self) -> bool:
        """Whether any process of the child's group is left (a pool process, a reloader)."""
        if self.process is None:
            return False
        self.process.poll()
        try:
            os.killpg(self.process.pid, 0)
        except ProcessLookupError:
            return False
        return True


def commands(dev: bool) -> list[Child]:
    host, port = os.environ.get("HOST", "127.0.0.1"), os.environ.get("PORT", "8000")
    if dev:
        web = [str(BIN / "python"), "manage.py", "runserver", f"{host}:{port}"]
    else:
        web = [
            str(BIN / "gunicorn"), "config.wsgi:application",
            "--bind", f"{host}:{port}",
            "--workers", os.environ.get("WEB_CONCURRENCY", "2"),
            # Threads: a slow upload never holds the one process /healthz needs.
            "--worker-class", "gthread", "--threads", os.environ.get("WEB_THREADS", "4"),
            "--timeout", "60", "--graceful-timeout", str(int(GRACE_SECONDS)),
            "--access-logfile", "-",
        ]  # fmt: skip
    worker = [
        str(BIN / "celery"), "-A", "config.celery_app", "worker",
        "--queues", "ml,default",
        "--concurrency", os.environ.get("WORKER_CONCURRENCY", "2"),
        "--beat", "--schedule", "var/celerybeat-schedule",
        "--loglevel", "INFO",
    ]  # fmt: skip
    return [Child("web", web), Child("worker", worker)]


def say(message: str) -> None:
    print(f"[supervisor] {message}", flush=True)


def stop(children: list[Child]) -> None:
    for child in children:
        child.signal(signal.SIGTERM)
    deadline = time.monotonic() + GRACE_SECONDS
    while time.monotonic() < deadline and any(child.group_alive() for child in children):
        time.sleep(0.1)
    for child in children:
        if child.group_alive():
            say(f"{child.name} did not stop within {GRACE_SECONDS:.0f} s; killing it")
            child.signal(signal.SIGKILL)
    deadline = time.monotonic() + STOP_SECONDS - GRACE_SECONDS
    while time.monotonic() < deadline and any(child.group_alive() for child in children):
        time.sleep(0.1)
    for child in children:
        if child.process is not None:
            child.process.wait(timeout=1)


def supervise(children: list[Child]) -> None:
    stopping: list[int] = []

    def request_stop(signum, frame) -> None:
        stopping.append(signum)

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    for child in children:
        child.start()
        say(f"{child.name} started (pid {child.process.pid})")
    while not stopping:
        now = time.monotonic()
        for child in children:
            if child.restart_at is not None:
                if now >= child.restart_at:
                    child.start()
                    say(f"{child.name} restarted (pid {child.process.pid})")
                continue
            code = child.process.poll()
            if code is None:
                continue
            # Whatever the dead process left in its group (pool processes) goes too.
            child.signal(signal.SIGKILL)
            lived = now - child.started
            child.pause = min(child.pause * 2, 30.0) if lived < CRASH_LOOP_SECONDS else 1.0
            how = f"signal {-code}" if code < 0 else f"exit code {code}"
            say(f"{child.name} died ({how}) after {lived:.0f} s; restarting it in {child.pause:.0f} s")
            child.restart_at = now + child.pause
        time.sleep(0.2)
    say("stopping …")
    stop(children)
    say("stopped")


def main() -> None:
    supervise(commands(dev="--dev" in sys.argv[1:]))


if __name__ == "__main__":
    main()
