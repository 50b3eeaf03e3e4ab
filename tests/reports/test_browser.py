"""A clinician in Chromium: the bell says an upload finished, the notification opens the case
history, the case-history PDF and the scan's PDF download, and the scan list's CSV link keeps
the filters that were applied. The render task runs in the live server's process here, as the
worker would run it."""

import csv
import io
import os
import uuid
from pathlib import Path

import pytest

from notifications.batches import batch_close_by_key, batch_record
from scans.models import Scan
from scans.reports.tasks import render_report
from tests.e2e.test_browser import browser_page  # noqa: F401  (the fixture)
from tests.e2e.test_pages import _log_in
from tests.factories import PatientFactory, PredictionFactory, ScanFactory

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _shot(page, name):
    folder = os.environ.get("E2E_SCREENSHOT_DIR")
    if folder:
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


@pytest.fixture
def finished_upload(team, owner):
    patient = PatientFactory(team=team, created_by=owner, display_name="Browser Patient", medical_record_number="BR-1")
    scans = []
    for label in ("glioma", "meningioma", "glioma"):
        scan = ScanFactory(patient=patient, status=Scan.Status.DONE)
        PredictionFactory(scan=scan, label=label, confidence=0.8)
        scans.append(scan)
    key = uuid.uuid4()
    batch_record(uploaded_by=owner, scans=scans, key=key)
    batch_close_by_key(uploaded_by=owner, key=key)
    return patient, scans


def test_a_clinician_follows_the_bell_and_takes_the_results_out(
    live_server,
    browser_page,  # noqa: F811 (the fixture imported above)
    owner,
    finished_upload,
    monkeypatch,
):
    patient, scans = finished_upload
    monkeypatch.setattr(render_report, "delay", lambda *args: render_report(*args))
    page = browser_page
    url = live_server.url
    _log_in(page, url, owner.username)

    bell = page.get_by_role("link", name="Notifications: 1 unread")
    assert bell.is_visible()
    _shot(page, "bell")
    bell.click()
    page.wait_for_url(f"{url}/notifications/")
    assert page.get_by_text("Your upload of 3 scans is finished: 3 done.").is_visible()
    _shot(page, "notifications")
    page.get_by_role("button", name="Open the results").click()
    page.wait_for_url(f"{url}/patients/{patient.pk}/")
    assert page.get_by_role("link", name="Notifications: 0 unread").is_visible()

    history = page.request.get(url + page.get_by_role("link", name="Case history PDF").get_attribute("href"))
    assert history.status == 200 and history.headers["content-type"] == "application/pdf"
    assert history.body().startswith(b"%PDF")

    page.goto(f"{url}/scans/{scans[0].pk}/")
    report = page.request.get(url + page.get_by_role("link", name="Download PDF").get_attribute("href"))
    assert report.status == 200 and report.body().startswith(b"%PDF")

    page.goto(f"{url}/scans/")
    page.get_by_label("Final result").select_option("glioma")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url("**/scans/?*result=glioma*")
    _shot(page, "scan-list-export")
    export = page.request.get(url + page.get_by_role("link", name="CSV", exact=True).get_attribute("href"))
    rows = list(csv.DictReader(io.StringIO(export.body().decode("utf-8-sig"))))
    assert sorted(row["scan_id"] for row in rows) == sorted(str(scan.pk) for scan in scans if scan.pk != scans[1].pk)
    assert page.problems == []
