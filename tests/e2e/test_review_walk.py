"""A staff reviewer in Chromium: the queue shows the riskiest scan first, the reviewer corrects
it, and the case history, the scan list, the dashboard and the API all show the corrected
result with what the model said. Then every page at phone width: nothing wider than the
window (tables become cards or scroll inside their own box)."""

import os
from pathlib import Path

import pytest

from tests.e2e.test_browser import browser_page  # noqa: F401  (the fixture)
from tests.e2e.test_pages import _log_in
from tests.factories import PatientFactory, PredictionFactory, ReviewFactory

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}


@pytest.fixture
def ward(team, owner, staff_reviewer, fake_weights):
    from datetime import date

    patient = PatientFactory(team=team, created_by=owner, display_name="Walk Patient", medical_record_number="WALK-1")
    PredictionFactory(scan__patient=patient, scan__acquisition_date=date(2024, 2, 1), label="notumor", confidence=0.97)
    sure = PredictionFactory(scan__patient=patient, scan__acquisition_date=date(2024, 9, 12), label="meningioma")
    ReviewFactory(scan=sure.scan, reviewer=staff_reviewer, verdict="agree")
    PredictionFactory(scan__patient=patient, label="glioma", confidence=0.93)
    riskiest = PredictionFactory(scan__patient=patient, uncertain=True).scan
    refused_elsewhere = PredictionFactory(
        scan__patient=PatientFactory(team=team, display_name="Other Patient"), refused=True
    ).scan
    return {"patient": patient, "riskiest": riskiest, "refused": refused_elsewhere}


def _fits(page) -> bool:
    return page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")


def _shot(page, name):
    folder = os.environ.get("E2E_SCREENSHOT_DIR")
    if folder:
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


def test_a_reviewer_corrects_the_riskiest_scan_and_every_page_shows_it(live_server, browser_page, staff_reviewer, ward):  # noqa: F811
    page = browser_page
    url = live_server.url
    _log_in(page, url, staff_reviewer.username)

    page.get_by_role("link", name="Review queue", exact=True).click()
    page.wait_for_url(f"{url}/review/")
    _shot(page, "desktop-queue")
    items = page.locator(".queue-item")
    assert items.count() == 4  # the agreed scan is done with
    assert "Not recognised as brain MRI" in items.nth(0).inner_text()
    assert "Uncertain" in items.nth(1).inner_text()

    # The refused one belongs to another patient; this reviewer takes the uncertain one.
    items.nth(1).get_by_role("link", name=f"Scan {ward['riskiest'].pk}").click()
    page.wait_for_url(f"{url}/scans/{ward['riskiest'].pk}/")
    header = page.locator(".result-header")
    assert "Uncertain" in header.inner_text() and "%" not in header.inner_text()
    _shot(page, "desktop-scan-uncertain")

    # Taken, so that a colleague's "next in queue" passes it by.
    page.get_by_role("button", name="Assign to me").click()
    page.wait_for_url(f"{url}/scans/{ward['riskiest'].pk}/")
    assert page.get_by_text(f"Scan {ward['riskiest'].pk} is assigned to you.").is_visible()
    assert page.locator(".assignment").get_by_text("Assigned to you").is_visible()

    assert not page.get_by_label("The correct class").is_visible()  # asked for only when correcting
    page.get_by_label("Correct the class", exact=True).check()
    page.get_by_label("The correct class").select_option("glioma")
    page.get_by_role("textbox", name="Notes").fill("Infiltrative margin on the left.")
    page.get_by_role("button", name="Save review").click()
    page.wait_for_url(f"{url}/scans/{ward['riskiest'].pk}/")
    assert page.get_by_text("Review saved.").is_visible()
    header_text = page.locator(".result-header").inner_text()
    assert "Glioma" in header_text and "model said Uncertain" in header_text
    assert page.get_by_role("link", name=f"Next in queue: scan {ward['refused'].pk} →").first.is_visible()
    _shot(page, "desktop-scan-corrected")

    def corrected_row(locator):
        text = locator.inner_text()
        return "Glioma" in text and "model said Uncertain" in text

    page.goto(f"{url}/patients/{ward['patient'].pk}/")
    page.wait_for_function("() => window.Chart && Chart.getChart(document.getElementById('history-chart'))")
    assert corrected_row(page.locator(".timeline-item").first)
    _shot(page, "desktop-history")

    page.goto(f"{url}/scans/?reviewed=changed")
    rows = page.locator("tbody tr")
    assert rows.count() == 1 and corrected_row(rows.first)

    page.goto(f"{url}/")
    recent = page.locator("section[aria-labelledby='recent-heading'] tbody tr")
    link = page.get_by_role("link", name=f"Scan {ward['riskiest'].pk}", exact=True)
    assert corrected_row(recent.filter(has=link))
    assert page.get_by_role("link", name="1", exact=True).first.is_visible()
    _shot(page, "desktop-dashboard")

    final = page.request.get(f"{url}/api/v1/scans/{ward['riskiest'].pk}/").json()["final_result"]
    assert (final["source"], final["label"], final["model_outcome"], final["changed"]) == (
        "review",
        "glioma",
        "uncertain",
        True,
    )
    assert not page.problems, page.problems


def test_no_page_scrolls_sideways_on_a_phone(live_server, browser_page, staff_reviewer, ward):  # noqa: F811
    page = browser_page
    page.set_viewport_size(PHONE)
    _log_in(page, live_server.url, staff_reviewer.username)
    pages = {
        "dashboard": "/",
        "scans": "/scans/",
        "history": f"/patients/{ward['patient'].pk}/",
        "scan": f"/scans/{ward['riskiest'].pk}/",
        "scan-refused": f"/scans/{ward['refused'].pk}/",
        "queue": "/review/",
        "patients": "/patients/",
    }
    for name, path in pages.items():
        page.goto(live_server.url + path)
        page.wait_for_load_state("networkidle")
        assert _fits(page), path
        _shot(page, f"phone-{name}")
    assert not page.problems, page.problems


def test_the_scan_page_puts_the_image_before_the_details_on_a_phone(live_server, browser_page, staff_reviewer, ward):  # noqa: F811
    page = browser_page
    page.set_viewport_size(PHONE)
    _log_in(page, live_server.url, staff_reviewer.username)
    scan = PredictionFactory(scan__patient=ward["patient"], label="pituitary", confidence=0.9).scan
    page.goto(f"{live_server.url}/scans/{scan.pk}/")
    tops = page.evaluate(
        """() => ['.result-header', '.viewer', '#probabilities-heading', '.review-card', '#explanation']
            .map(s => document.querySelector(s).getBoundingClientRect().top)"""
    )
    assert tops == sorted(tops)


def test_the_image_viewer_toggles_layers_and_enlarges(live_server, browser_page, owner, ward):  # noqa: F811
    page = browser_page
    _log_in(page, live_server.url, owner.username)
    scan = PredictionFactory(scan__patient=ward["patient"], label="pituitary", confidence=0.9).scan
    page.goto(f"{live_server.url}/scans/{scan.pk}/")
    gradcam, saliency = page.locator("img.heatmap[data-kind=gradcam]"), page.locator("img.heatmap[data-kind=saliency]")
    assert gradcam.is_visible() and not saliency.is_visible()
    page.get_by_label("Saliency").check()
    assert saliency.is_visible() and not gradcam.is_visible()
    assert page.locator(".layer-note[data-kind=saliency] .scale-hot").is_visible()
    page.get_by_label("Original").check()
    assert not saliency.is_visible() and not gradcam.is_visible()
    page.get_by_label("Grad-CAM").check()
    page.get_by_label("Heat-map opacity").fill("30")
    assert gradcam.evaluate("i => i.style.opacity") == "0.3"
    page.get_by_role("button", name="Enlarge the image (Escape closes it)").click()
    box = page.locator(".zoomable.enlarged").bounding_box()
    assert box["width"] == page.viewport_size["width"]
    base, overlay = page.locator(".enlarged img.base").bounding_box(), gradcam.bounding_box()
    assert base == overlay and base["height"] > 0.9 * page.viewport_size["height"]
    page.keyboard.press("Escape")
    assert page.locator(".zoomable.enlarged").count() == 0
    assert not page.problems, page.problems
