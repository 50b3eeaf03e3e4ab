"""bin/supervise.py, which `make run` and `make dev` hand over to: it restarts a process that
dies, and Ctrl-C or SIGTERM leaves nothing running, children's children included."""

import importlib.util
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import REPO_ROOT

SUPERVISOR = REPO_ROOT / "bin" / "supervise.py"

# A stand-in for gunicorn or Celery: a parent that starts a child of its own and ignores
# SIGTERM, the worst case for stopping.
STUBBORN = (
    "import signal, subprocess, sys, time;"
    "signal.signal(signal.SIGTERM, signal.SIG_IGN);"
    "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)']);"
    "time.sleep(600)"
)
DRIVER = f"""
import sys
sys.path.insert(0, {str(SUPERVISOR.parent)!r})
import supervise
supervise.supervise([supervise.Child("worker", [sys.executable, "-c", {STUBBORN!r}])])
"""


def load_supervisor():
    spec = importlib.util.spec_from_file_location("supervise", SUPERVISOR)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # it ended while we looked
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def wait_for(condition, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0); it is gone for every practical purpose.
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().split()[2] != "Z"


def test_make_run_serves_with_gunicorn_and_make_dev_with_runserver():
    supervise = load_supervisor()
    run = {child.name: child.command for child in supervise.commands(dev=False)}
    dev = {child.name: child.command for child in supervise.commands(dev=True)}
    assert run["web"][0].endswith("gunicorn")
    assert "runserver" in dev["web"]
    assert "ml,default" in run["worker"] and "--beat" in run["worker"]


def test_sigterm_stops_everything_within_ten_seconds_leaving_no_process():
    supervisor = subprocess.Popen([sys.executable, "-c", DRIVER], stdout=subprocess.PIPE, text=True)
    try:
        assert wait_for(lambda: len(descendants(supervisor.pid)) >= 2)
        family = descendants(supervisor.pid)
        started = time.monotonic()
        supervisor.send_signal(signal.SIGTERM)
        supervisor.wait(timeout=15)
        assert time.monotonic() - started < 10
        assert wait_for(lambda: not any(alive(pid) for pid in family), 2)
    finally:
        supervisor.kill()


def test_a_worker_that_dies_is_restarted_and_the_supervisor_says_so():
    supervisor = subprocess.Popen([sys.executable, "-c", DRIVER], stdout=subprocess.PIPE, text=True)
    try:
        assert wait_for(lambda: len(descendants(supervisor.pid)) >= 2)
        family = descendants(supervisor.pid)
        os.kill(min(family), signal.SIGKILL)
        assert wait_for(lambda: descendants(supervisor.pid) - family, 10)
        supervisor.send_signal(signal.SIGINT)
        output, _ = supervisor.communicate(timeout=15)
        assert "worker died (signal 9)" in output
        assert "worker restarted" in output
    finally:
        supervisor.kill()
