"""`make chaos`: start the stack, run every experiment, put PostgreSQL and Redis back as they
were whatever happens, print the table, and exit 1 if a promise does not hold.

    python -m chaos [--only NAME_FRAGMENT]

Needs, on 127.0.0.1: PostgreSQL (user postgres, trust) and Redis, which it stops and starts;
the trained custom CNN in weights/ and the shared dataset (real slices are uploaded).
"""

import argparse
import json
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import psycopg
import redis

from chaos import experiments, images, services
from chaos.client import SETUP_SCRIPT, Client, Rows
from chaos.report import table
from chaos.stack import BIN, BROKER_URL, DATABASE_NAME, REPO, Stack

RESULTS = REPO / "var" / "chaos"


def say(message: str) -> None:
    print(f"[chaos {time.strftime('%H:%M:%S')}] {message}", flush=True)


def prepare(stack: Stack) -> int:
    """A fresh database and queue; returns the patient every upload goes to."""
    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DATABASE_NAME} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {DATABASE_NAME}")
    redis.Redis.from_url(BROKER_URL).flushdb()
    stack.manage("migrate", "--noinput", "-v", "0")
    out = subprocess.run(
        [str(BIN / "python"), "manage.py", "shell", "-c", SETUP_SCRIPT],
        cwd=REPO, env=stack.env, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return int(out.strip().splitlines()[-1])


def warm_up(ctx: experiments.Context) -> None:
    """One scan end to end (does the classifier work here?), then a round of uploads on
    every web thread: a process's first requests pay for imports no user would wait for."""
    upload = ctx.client.upload(ctx.good_image(), good=True)
    if upload.status != 202:
        raise RuntimeError(f"the first upload was answered {upload.status}")
    if ctx.rows.wait_finished([upload.scan_id], 180) is None:
        raise RuntimeError("the first scan did not finish within 3 minutes")
    state = ctx.rows.states([upload.scan_id])[upload.scan_id]
    if state != "done":
        raise RuntimeError(f"the first scan ended {state}: the classifier does not work in this stack")
    with ThreadPoolExecutor(max_workers=12) as pool:
        uploads = list(pool.map(lambda _: ctx.client.upload(ctx.good_image(), good=True), range(24)))
    ctx.rows.wait_finished([u.scan_id for u in uploads if u.scan_id], 180)


def run(only: str) -> list[experiments.Row]:
    for path, what in ((images.DATASET, "the shared dataset"), (REPO / "weights" / "custom_cnn.weights.h5", "weights")):
        if not path.exists():
            raise SystemExit(f"make chaos needs {what} at {path}")
    restored = services.restore_services()
    if restored:
        say(f"started {', '.join(restored)} first")
    stack = Stack()
    rows: list[experiments.Row] = []
    try:
        say(f"preparing database '{DATABASE_NAME}' and {BROKER_URL}; logs in {stack.workdir}")
        patient_id = prepare(stack)
        for role in ("web", "default", "beat", "ml"):
            stack.start(role)
        stack.wait_ready()
        ctx = experiments.Context(stack, Client(patient_id), Rows(), images.real_slices(40), images.hostile_images())
        warm_up(ctx)
        say("stack ready")
        for experiment in experiments.ALL:
            if only and only not in experiment.__name__:
                continue
            say(f"{experiment.__name__} …")
            started = time.monotonic()
            try:
                row = experiment(ctx)
            except Exception as error:
                row = experiments.Row(experiment.__name__, broken=f"crashed: {type(error).__name__}: {error}")
            services.restore_services()
            say(
                f"{experiment.__name__}: {'holds' if row.ok else 'BROKEN: ' + row.broken}{'; target missed: ' + row.missed if row.missed else ''} ({time.monotonic() - started:.0f} s)"
            )
            rows.append(row)
    finally:
        stack.stop_all()
        restored = services.restore_services()
        if restored:
            say(f"restored {', '.join(restored)}")
        if any(not row.ok for row in rows):
            for role in ("ml", "default", "web"):
                say(f"--- last lines of the {role} log ---\n{stack.log_tail(role)}")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default="", help="run only the experiments whose name contains this")
    args = parser.parse_args()
    names = [experiment.__name__ for experiment in experiments.ALL]
    if not any(args.only in name for name in names):
        parser.error(f"no experiment's name contains {args.only!r}; the experiments are: {', '.join(names)}")
    # SIGTERM (CI cancelling the job) unwinds like Ctrl-C, through the restoring `finally`.
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    started = time.monotonic()
    rows = run(args.only)
    report = table(rows)
    print(f"\n{report}\n\n(total {time.monotonic() - started:.0f} s)", flush=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "latest.md").write_text(report + "\n")
    (RESULTS / "latest.json").write_text(json.dumps([row.name for row in rows if not row.ok]))
    sys.exit(0 if rows and all(row.ok for row in rows) else 1)


if __name__ == "__main__":
    main()
