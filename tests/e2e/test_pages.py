"""Every page in Chromium, on a laptop, a tablet and a phone: no script or style refused by the CSP, no
JavaScript error, the history chart drawn, the upload page's keyboard path and drop zone."""

import base64
import os
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission

from tests.e2e.test_browser import browser_page  # noqa: F401  (the fixture)
from tests.factories import PatientFactory, PredictionFactory
from tests.images import png_bytes

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

PAGES = [
    "/",
    "/patients/",
    "/patients/{patient}/",
    "/upload/?patient={patient}",
    "/scans/",
    "/scans/{scan}/",
    "/scans/{refused}/",
    "/review/",
    "/models/custom_cnn/",
    "/admin/scans/scan/",
    "/admin/scans/scan/{scan}/change/",
    "/admin/scans/patient/{patient}/change/",
]


@pytest.fixture
def case(team, owner, staff_reviewer, fake_weights):
    staff_reviewer.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="scans", codename__regex=r"^(view|change)_")
    )
    patient = PatientFactory(team=team, created_by=owner, display_name="Page Patient", medical_record_number="PG-1")
    PredictionFactory(scan__patient=patient, label="meningioma", confidence=0.62)
    scan = PredictionFactory(scan__patient=patient, label="glioma", confidence=0.91).scan
    PredictionFactory(scan=scan, model_name="xception", label="glioma", confidence=0.84)
    refused = PredictionFactory(scan__patient=patient, refused=True).scan
    return {"patient": patient.pk, "scan": scan.pk, "refused": refused.pk}


def _log_in(page, url, username):
    page.goto(f"{url}/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill("a-long-test-password")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{url}/")


@pytest.mark.parametrize("width", [1280, 800, 390])
def test_every_page_renders_without_errors(live_server, browser_page, staff_reviewer, case, width):  # noqa: F811
    page = browser_page
    page.set_viewport_size({"width": width, "height": 1000})
    _log_in(page, live_server.url, staff_reviewer.username)
    shots = os.environ.get("E2E_SCREENSHOT_DIR")
    for path in PAGES:
        page.goto(live_server.url + path.format(**case))
        page.wait_for_load_state("networkidle")
        # Nothing wider than the window: tables scroll inside their own box.
        assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth + 1"), path
        if shots:
            name = path.strip("/").replace("/", "-").split("?")[0] or "dashboard"
            page.screenshot(path=str(Path(shots) / f"{width}-{name}.png"), full_page=True)
    # Django's admin pages name no icon, so the browser asks for /favicon.ico.
    assert not [p for p in page.problems if not p.endswith("/favicon.ico")], page.problems


def test_the_history_chart_is_drawn(live_server, browser_page, owner, case):  # noqa: F811
    page = browser_page
    _log_in(page, live_server.url, owner.username)
    page.goto(f"{live_server.url}/patients/{case['patient']}/")
    page.wait_for_function("() => window.Chart && Chart.getChart(document.getElementById('history-chart'))")
    assert page.evaluate("() => Chart.getChart(document.getElementById('history-chart')).data.datasets.length") == 2


def test_the_upload_page_works_from_the_keyboard(live_server, browser_page, owner, case):  # noqa: F811
    page = browser_page
    _log_in(page, live_server.url, owner.username)
    page.goto(f"{live_server.url}/upload/?patient={case['patient']}")
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.textContent") == "Skip to content"
    assert page.get_by_label("Xception", exact=True).is_disabled()
    assert page.get_by_label("Custom CNN", exact=True).is_checked()
    page.get_by_role("button", name="Upload and classify").click()
    assert page.get_by_text("Choose at least one image.").is_visible()


def test_dropped_files_each_get_a_progress_bar_and_their_own_error(live_server, browser_page, owner, case, monkeypatch):  # noqa: F811
    from scans import tasks

    # Nothing to classify here: keep the queue (Redis in CI) clean for the worker tests.
    monkeypatch.setattr(tasks, "enqueue_classification", lambda scan_id: None)
    page = browser_page
    _log_in(page, live_server.url, owner.username)
    page.goto(f"{live_server.url}/upload/?patient={case['patient']}")
    files = page.evaluate_handle(
        """([good]) => {
            const transfer = new DataTransfer();
            const bytes = Uint8Array.from(atob(good), c => c.charCodeAt(0));
            transfer.items.add(new File([bytes], 'good.png', {type: 'image/png'}));
            transfer.items.add(new File(['<html>not an image</html>'], 'notes.png', {type: 'image/png'}));
            return transfer;
        }""",
        [base64.b64encode(png_bytes()).decode()],
    )
    page.dispatch_event("#dropzone", "drop", {"dataTransfer": files})
    assert page.locator(".file-row progress").count() == 2
    page.get_by_role("button", name="Upload and classify").click()
    page.wait_for_selector("#upload-summary a")
    rows = page.locator(".file-row")
    assert "uploaded: scan" in rows.nth(0).inner_text()
    assert page.locator(".file-row progress").nth(0).evaluate("p => p.value") == 100
    assert "not uploaded: Unsupported file type" in rows.nth(1).inner_text()
    assert page.locator("#upload-summary").inner_text().startswith("1 uploaded, 1 not uploaded")
    assert [p.split()[0] for p in page.problems] == ["400"], page.problems


def test_a_drawn_chart_swapped_for_the_finished_result_breaks_no_csp_rule(live_server, browser_page, owner, case):  # noqa: F811
    # A scan polled while `classified`: its chart is drawn, and Chart.js sizes the canvas with a
    # style attribute. When the scan is done, htmx swaps the block; settling `style` copied the old
    # canvas's style attribute onto the new one, which the CSP refuses (style-src 'self').
    from scans.models import Scan

    page = browser_page
    Scan.objects.filter(pk=case["scan"]).update(status=Scan.Status.CLASSIFIED)
    _log_in(page, live_server.url, owner.username)
    page.goto(f"{live_server.url}/scans/{case['scan']}/")
    page.wait_for_function("() => window.Chart && Chart.getChart(document.getElementById('probability-chart'))")
    assert page.get_attribute("#probability-chart", "style")  # what htmx used to settle
    Scan.objects.filter(pk=case["scan"]).update(status=Scan.Status.DONE)
    page.wait_for_selector("#scan-result[data-status='done']", timeout=15_000)
    page.wait_for_function("() => Chart.getChart(document.getElementById('probability-chart'))")
    assert page.problems == []
