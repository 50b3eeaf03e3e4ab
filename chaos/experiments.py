"""The experiments. Each is bounded in time, leaves the stack running as it found it, and
returns one row of the table with the promise it checks."""

import contextlib
import os
import random
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from chaos import services
from chaos.client import Client, HealthProbe, Rows, Timings, Upload
from chaos.stack import Stack

# How long an experiment waits for its scans before counting the rest as lost.
FINISH_WITHIN = 150.0


@dataclass
class Row:
    name: str
    accepted: int = 0
    refused: int = 0  # answered 4xx or 503: the client was told, nothing was taken
    errors: int = 0  # 500s and dropped connections: must be 0
    done: int = 0
    failed: int = 0
    lost: int = 0
    recovery_s: float | None = None
    upload: Timings | None = None
    health: Timings | None = None
    promise: str = ""
    broken: str = ""  # why the promise does not hold; empty when it does
    # Latency targets missed. Reported, not fatal: on 2 shared cores they measure the machine's
    # other load as much as the code; a lost, failed or 500'd scan is never excused this way.
    missed: str = ""

    @property
    def ok(self) -> bool:
        return not self.broken


@dataclass
class Context:
    stack: Stack
    client: Client
    rows: Rows
    good: list[bytes]
    hostile: dict[str, bytes]

    def good_image(self) -> bytes:
        return random.choice(self.good)


def _tally(row: Row, uploads: list[Upload], ctx: Context, finish_within: float = FINISH_WITHIN) -> list[int]:
    """Counts the answers, waits for the accepted scans, counts how they ended."""
    row.upload = row.upload or Timings()
    for upload in uploads:
        row.upload.add(upload.ms)
        if upload.status == 202:
            row.accepted += 1
        elif 400 <= upload.status < 500 or upload.status == 503:
            row.refused += 1
        else:
            row.errors += 1
    ids = [u.scan_id for u in uploads if u.scan_id is not None]
    if ids:
        ctx.rows.wait_finished(ids, finish_within)
        states = ctx.rows.states(ids)
        row.done = sum(1 for s in states.values() if s == "done")
        row.failed = sum(1 for s in states.values() if s == "failed")
        row.lost = len(ids) - row.done - row.failed
    return ids


def _in_threads(threads: int, work: Callable[[int], list[Upload]]) -> list[Upload]:
    with ThreadPoolExecutor(max_workers=threads) as pool:
        return [upload for batch in pool.map(work, range(threads)) for upload in batch]


def _check(row: Row, conditions: list[tuple[bool, str]], targets: list[tuple[bool, str]] = ()) -> Row:
    row.broken = "; ".join(reason for holds, reason in conditions if not holds)
    row.missed = "; ".join(reason for met, reason in targets if not met)
    return row


def _recovery(ctx: Context, ids: list[int], since: float) -> float | None:
    """Seconds from `since` (a monotonic time) until every scan had finished."""
    waited = ctx.rows.wait_finished(ids, FINISH_WITHIN)
    return None if waited is None else time.monotonic() - since


def _load(ctx: Context, row: Row, *, per_uploader: int, pause: float) -> Row:
    def uploader(index: int) -> list[Upload]:
        # Staggered starts: twenty people do not press the button in the same millisecond.
        time.sleep(pause * index / 20)
        uploads = []
        for _ in range(per_uploader):
            uploads.append(ctx.client.upload(ctx.good_image(), good=True))
            time.sleep(pause)
        return uploads

    with HealthProbe(ctx.client) as probe:
        uploads = _in_threads(20, uploader)
    sent = time.monotonic()
    ids = _tally(row, uploads, ctx)
    row.recovery_s = _recovery(ctx, ids, sent)
    row.health = probe.timings
    return row


def load_20_uploaders(ctx: Context) -> Row:
    """Twenty people uploading at once, each a slice every second (20 uploads/s offered,
    about three times what one ml worker classifies: the queue grows and then drains)."""
    row = _load(
        ctx,
        Row("20 uploaders, 1 slice/s each", promise="0 errors, upload p95 ≤ 300 ms, all done"),
        per_uploader=5,
        pause=1.0,
    )
    p95 = row.upload.percentile(95)
    return _check(
        row,
        [
            (row.errors == 0 and row.refused == 0, f"{row.errors + row.refused} uploads not accepted"),
            (row.lost == 0 and row.failed == 0, f"{row.lost} lost, {row.failed} failed"),
        ],
        targets=[(p95 is not None and p95 <= 300, f"upload p95 {p95 or 0:.0f} ms > 300 ms")],
    )


def burst_20_uploaders(ctx: Context) -> Row:
    """Twenty clients uploading back to back with no pause: the machine's capacity. Latency is
    whatever the CPU allows (reported, not promised); nothing may fail or be lost."""
    row = _load(ctx, Row("20 uploaders back to back", promise="0 errors, all done"), per_uploader=3, pause=0.0)
    return _check(
        row,
        [
            (row.errors == 0 and row.refused == 0, f"{row.errors + row.refused} uploads not accepted"),
            (row.lost == 0 and row.failed == 0, f"{row.lost} lost, {row.failed} failed"),
        ],
    )


def hostile_mixed_with_good(ctx: Context, rounds: int = 2) -> Row:
    row = Row("hostile uploads mixed with good", promise="bad → 400, good done, /healthz p95 ≤ 100 ms")
    names = list(ctx.hostile)

    def hostile(_: int) -> list[Upload]:
        return [ctx.client.upload(ctx.hostile[name], good=False) for _ in range(rounds) for name in names]

    def good(_: int) -> list[Upload]:
        return [ctx.client.upload(ctx.good_image(), good=True) for _ in range(2 * rounds)]

    with HealthProbe(ctx.client, interval=0.1) as probe:
        uploads = _in_threads(6, lambda i: hostile(i) if i < 3 else good(i))
    _tally(row, uploads, ctx)
    row.health = probe.timings
    good_states = ctx.rows.states([u.scan_id for u in uploads if u.good and u.scan_id])
    good_accepted = sum(1 for u in uploads if u.good and u.status == 202)
    accepted_hostile = sum(1 for u in uploads if not u.good and u.status == 202)
    health_p95 = row.health.percentile(95)
    return _check(
        row,
        [
            (row.errors == 0, f"{row.errors} server errors"),
            (good_accepted == sum(1 for u in uploads if u.good), "a good upload was refused"),
            (accepted_hostile <= 3 * rounds, f"{accepted_hostile} hostile uploads accepted"),
            (all(s == "done" for s in good_states.values()), "a good scan did not end done"),
            (row.lost == 0, f"{row.lost} lost"),
        ],
        targets=[(health_p95 is not None and health_p95 <= 100, f"/healthz p95 {health_p95 or 0:.0f} ms > 100 ms")],
    )


def _uploads_with_one_processing(ctx: Context, count: int) -> tuple[list[Upload], int | None]:
    uploads = [ctx.client.upload(ctx.good_image(), good=True) for _ in range(count)]
    ids = [u.scan_id for u in uploads if u.scan_id]
    return uploads, ctx.rows.wait_for_state(ids, "processing", 30)


def pool_child_killed(ctx: Context) -> Row:
    row = Row("ml pool process SIGKILLed mid-scan", promise="all done within 120 s")
    uploads, processing = _uploads_with_one_processing(ctx, 4)
    for pid in ctx.stack.pool_children("ml"):
        _kill(pid)
    killed = time.monotonic()
    ids = _tally(row, uploads, ctx)
    row.recovery_s = _recovery(ctx, ids, killed)
    return _check(
        row,
        [
            (processing is not None, "no scan was caught processing"),
            (row.lost == 0 and row.failed == 0, f"{row.lost} lost, {row.failed} failed"),
            (row.recovery_s is not None and row.recovery_s <= 120, "not recovered within 120 s"),
        ],
    )


def whole_worker_killed(ctx: Context) -> Row:
    row = Row("whole ml worker SIGKILLed, back 5 s later", promise="all done within 120 s of the restart")
    uploads, processing = _uploads_with_one_processing(ctx, 4)
    ctx.stack.kill("ml")
    time.sleep(5)
    ctx.stack.start("ml")
    restarted = time.monotonic()
    ids = _tally(row, uploads, ctx)
    row.recovery_s = _recovery(ctx, ids, restarted)
    return _check(
        row,
        [
            (processing is not None, "no scan was caught processing"),
            (row.lost == 0 and row.failed == 0, f"{row.lost} lost, {row.failed} failed"),
            (row.recovery_s is not None and row.recovery_s <= 120, "not recovered within 120 s"),
        ],
    )


def redis_restarted_empty(ctx: Context) -> Row:
    """Messages queued while no ml worker consumes, then Redis restarted without persistence:
    every one of them is gone, and uploads during the outage could not send theirs."""
    row = Row("Redis restarted without persistence", promise="lost messages done within 60 s of Redis' return")
    ctx.stack.kill("ml")
    before = [ctx.client.upload(ctx.good_image(), good=True) for _ in range(6)]
    # Loading TensorFlow takes a while; the worker waits for Redis meanwhile.
    ctx.stack.start("ml")
    services.redis_stop()
    during = [ctx.client.upload(ctx.good_image(), good=True) for _ in range(3)]
    services.redis_start()
    back = time.monotonic()
    ids = _tally(row, before + during, ctx)
    row.recovery_s = _recovery(ctx, ids, back)
    return _check(
        row,
        [
            (row.errors == 0, f"{row.errors} server errors"),
            (row.lost == 0 and row.failed == 0, f"{row.lost} lost, {row.failed} failed"),
            (row.recovery_s is not None and row.recovery_s <= 60, "not recovered within 60 s"),
        ],
    )


def postgres_restarted(ctx: Context, outage_seconds: float = 6.0) -> Row:
    row = Row("PostgreSQL down 6 s under uploads", promise="503 not 500, no task dropped, done within 60 s")
    uploads: list[Upload] = []
    stop = threading.Event()

    def keep_uploading() -> None:
        while not stop.is_set():
            uploads.append(ctx.client.upload(ctx.good_image(), good=True))
            stop.wait(0.3)

    uploader = threading.Thread(target=keep_uploading, daemon=True)
    uploader.start()
    time.sleep(3)
    services.postgres_stop()
    time.sleep(outage_seconds)
    services.postgres_start()
    back = time.monotonic()
    time.sleep(4)
    stop.set()
    uploader.join(timeout=70)
    ids = _tally(row, uploads, ctx)
    row.recovery_s = _recovery(ctx, ids, back)
    return _check(
        row,
        [
            (row.errors == 0, f"{row.errors} answers were 500 or no answer"),
            (row.lost == 0 and row.failed == 0, f"{row.lost} lost, {row.failed} failed"),
            (row.recovery_s is not None and row.recovery_s <= 60, "not recovered within 60 s"),
        ],
    )


def _kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def default_worker_without_tensorflow(ctx: Context) -> Row:
    """The `default` worker writes explanations: its processes must not load TensorFlow."""
    row = Row("default worker processes", promise="no TensorFlow loaded")
    processes = [ctx.stack.processes["default"].pid, *ctx.stack.pool_children("default")]
    heavy = [pid for pid in processes if "tensorflow" in Path(f"/proc/{pid}/maps").read_text()]
    return _check(row, [(not heavy, f"TensorFlow loaded in {len(heavy)} of {len(processes)} processes")])


ALL = [
    default_worker_without_tensorflow,
    load_20_uploaders,
    burst_20_uploaders,
    hostile_mixed_with_good,
    pool_child_killed,
    whole_worker_killed,
    redis_restarted_empty,
    postgres_restarted,
]
