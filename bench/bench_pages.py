"""Server time of the portal's heaviest pages (not a test; prints numbers).

    DJANGO_SETTINGS_MODULE=config.settings.test .venv/bin/python bench/bench_pages.py
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test ... bench/bench_pages.py   # on PostgreSQL

Creates a throwaway test database with one patient of 200 scans and 2,000 scans in all (each
with a prediction, a fifth of them reviewed), then times Django's test client — view,
selectors, template and database, no network — on the patient's case history and on the
scan history with and without filters, and prints median and p95 in ms with the query count.
Targets (issue 4): history with 200 scans p95 <= 150 ms; scan list of 2,000 with filters
p95 <= 200 ms.
"""

import argparse
import os
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402

from accounts.models import Team, User  # noqa: E402
from scans.ml.classes import CLASS_NAMES  # noqa: E402
from scans.models import Patient, Prediction, Review, Scan  # noqa: E402


def populate(total: int, history: int, patients: int) -> tuple[User, Patient]:
    team = Team.objects.create(name="Bench team")
    user = User.objects.create_user("bench")
    reviewer = User.objects.create_user("bench-reviewer", role=User.Role.REVIEWER)
    team.members.add(user, reviewer)
    people = Patient.objects.bulk_create(
        Patient(team=team, created_by=user, medical_record_number=f"B-{i:05d}", display_name=f"Bench Patient {i}")
        for i in range(patients)
    )
    now = timezone.now()
    scans = Scan.objects.bulk_create(
        Scan(
            patient=people[0] if i < history else people[1 + i % (patients - 1)],
            uploaded_by=user,
            image=f"scans/bench-{i}.png",
            sha256="0" * 64,
            width=512,
            height=512,
            status=Scan.Status.DONE if i % 10 else Scan.Status.QUEUED,
            requested_models=["custom_cnn"],
        )
        for i in range(total)
    )
    for i, scan in enumerate(scans):
        scan.created_at = now - timedelta(hours=i)
    Scan.objects.bulk_update(scans, ["created_at"], batch_size=500)
    Prediction.objects.bulk_create(
        (
            Prediction(
                scan=scan,
                model_name="custom_cnn",
                model_version="a" * 64,
                label=CLASS_NAMES[i % 4],
                confidence=0.7,
                probabilities=dict(zip(CLASS_NAMES, (0.7, 0.1, 0.1, 0.1))),
                gradcam="overlays/g.png",
                saliency="overlays/s.png",
                timings={"total_ms": 250.0},
            )
            for i, scan in enumerate(scans)
            if scan.status == Scan.Status.DONE
        ),
        batch_size=500,
    )
    Review.objects.bulk_create(
        Review(scan=s, reviewer=reviewer, verdict="agree") for s in scans[::5] if s.status == "done"
    )
    return user, people[0]


def measure(client: Client, url: str, repeat: int) -> tuple[float, float, int]:
    for _ in range(3):
        assert client.get(url).status_code == 200, url
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        client.get(url)
        times.append((time.perf_counter() - started) * 1000)
    with CaptureQueriesContext(connection) as queries:
        client.get(url)
    times.sort()
    return statistics.median(times), times[int(0.95 * (len(times) - 1))], len(queries)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scans", type=int, default=2000)
    parser.add_argument("--history", type=int, default=200)
    parser.add_argument("--patients", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=60)
    args = parser.parse_args()

    old_name = connection.creation.create_test_db(verbosity=0)
    try:
        user, patient = populate(args.scans, args.history, args.patients)
        client = Client()
        client.force_login(user)
        since = (timezone.now() - timedelta(days=60)).date().isoformat()
        pages = [
            (f"patient history, {args.history} scans", f"/patients/{patient.pk}/", 150),
            (f"scan list, {args.scans} scans, no filter", "/scans/", 200),
            (
                "scan list, final result + status + not reviewed, by patient",
                "/scans/?result=glioma&status=done&reviewed=no&sort=patient",
                200,
            ),
            ("scan list, model + date range, page 5", f"/scans/?model=custom_cnn&date_from={since}&page=5", 200),
            ("scan list, one patient", f"/scans/?patient={patient.pk}", 200),
            ("dashboard", "/", 200),
            ("patients, search", "/patients/?q=bench", 200),
        ]
        print(f"{connection.vendor}, {args.repeat} requests each (ms)")
        print(f"{'page':58} {'median':>7} {'p95':>7} {'target':>7} {'queries':>8}")
        for name, url, target in pages:
            median, p95, queries = measure(client, url, args.repeat)
            print(f"{name:58} {median:7.1f} {p95:7.1f} {target:7d} {queries:8d}")
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
