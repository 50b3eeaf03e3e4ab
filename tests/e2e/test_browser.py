"""The whole portal in a real browser: Debian's headless Chromium driven by Playwright, a live
server and a real Celery worker running the real engine. Log in, create a patient, upload a
real scan, watch the page update by itself until the scan is done, and check the result: the
label, the heat maps loaded, the chart drawn — and no Content Security Policy violation."""

import os
import shutil
from pathlib import Path

import pytest
from celery.contrib.testing.worker import start_worker

from config.celery_app import app
from tests.conftest import dataset_image, require, require_broker, require_weights

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
# A root, offline container: no sandbox, no GPU, and nothing that phones home.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
RESULT_TIMEOUT_MS = 240_000


@pytest.fixture
def browser_page(monkeypatch):
    require(Path(CHROMIUM).is_file(), f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        require(False, "the playwright package is not installed (requirements-dev.txt)")
    # Playwright's sync API runs an event loop in this thread; the ORM calls made by the test
    # around it are still synchronous.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        problems: list[str] = []
        # Console errors (CSP refusals among them) and failed requests, each with its URL.
        page.on(
            "console",
            lambda m: (
                problems.append(m.text)
                if m.type == "error" and not m.text.startswith("Failed to load resource")
                else None
            ),
        )
        page.on("response", lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 400 else None)
        page.on("pageerror", lambda error: problems.append(str(error)))
        page.problems = problems
        yield page
        browser.close()


def test_a_clinician_uploads_a_scan_and_watches_it_classified(live_server, browser_page, owner, tmp_path):
    require_weights()
    require_broker()
    scan_file = dataset_image("pituitary", 3)
    page = browser_page

    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill(owner.username)
    page.get_by_label("Password").fill("a-long-test-password")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{live_server.url}/")
    assert page.get_by_role("heading", name="Dashboard").is_visible()

    page.get_by_role("link", name="Patients", exact=True).click()
    page.get_by_role("link", name="New patient").click()
    page.get_by_label("Medical record number (MRN)").fill("E2E-0001")
    page.get_by_label("Name", exact=True).fill("Browser Test Patient")
    page.get_by_role("button", name="Save").click()
    page.wait_for_url("**/patients/*/")
    assert page.get_by_role("heading", name="Browser Test Patient").is_visible()

    page.get_by_role("link", name="Upload scans").click()
    page.wait_for_url("**/upload/?patient=*")
    page.get_by_label("Images").set_input_files(str(scan_file))
    assert page.locator(".file-row").count() == 1
    page.get_by_role("button", name="Upload and classify").click()
    page.wait_for_url("**/scans/*/", timeout=60_000)
    scan_url = page.url
    # No worker yet, so the page is seen waiting whatever the machine's speed; from here on
    # there is no reload: htmx replaces the result block until the scan is done.
    assert page.locator("#scan-result").get_attribute("data-status") == "queued"
    with start_worker(app, pool="solo", perform_ping_check=False, queues=["ml", "default"], shutdown_timeout=30):
        page.wait_for_selector("#scan-result[data-status='done']", timeout=RESULT_TIMEOUT_MS)
        assert page.url == scan_url
    assert page.locator("#status-announcer").text_content().endswith(" is done.")

    explanation = page.locator("#explanation .explanation")
    assert explanation.get_attribute("data-provider") == "offline"
    assert "Offline explainer — generated without a language model" in explanation.inner_text()
    for heading in ("Summary", "Highlighted regions", "Supporting findings", "Caveats"):
        assert explanation.get_by_role("heading", name=heading, exact=True).is_visible()

    # A real MRI slice gets a class, or at worst "uncertain" — never a refusal.
    label = page.locator(".result-header .label").first.inner_text()
    assert label in ("Glioma", "Meningioma", "No tumour", "Pituitary tumour", "Uncertain")
    page.wait_for_function(
        "() => [...document.querySelectorAll('img.heatmap')].every(i => i.complete && i.naturalWidth > 0)"
    )
    assert page.locator("img.heatmap").count() == 2
    widths = page.eval_on_selector_all("img.heatmap", "images => images.map(i => i.naturalWidth)")
    assert all(width > 0 for width in widths)
    page.wait_for_function("() => window.Chart && Chart.getChart(document.getElementById('probability-chart'))")
    painted = page.evaluate(
        """() => {
            const canvas = document.getElementById('probability-chart');
            const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
            let painted = 0;
            for (let i = 3; i < pixels.length; i += 4) if (pixels[i] > 0) painted++;
            return painted;
        }"""
    )
    assert painted > 1000

    page.get_by_label("Heat-map opacity").first.fill("40")
    assert page.locator("img.heatmap").first.evaluate("i => i.style.opacity") == "0.4"
    page.get_by_label("Heat-map opacity").first.fill("100")
    page.evaluate("() => document.activeElement.blur()")

    screenshot = tmp_path / "scan-page.png"
    page.screenshot(path=str(screenshot), full_page=True)
    if os.environ.get("E2E_SCREENSHOT"):
        shutil.copyfile(screenshot, os.environ["E2E_SCREENSHOT"])
    assert screenshot.stat().st_size > 10_000
    # No JavaScript error, CSP refusal or failed request on the way.
    assert not page.problems, page.problems
