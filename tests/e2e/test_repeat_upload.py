"""Several files through the upload page in Chromium, one of them an image this patient already
has: both are uploaded, and the page stays to say which file repeats which scan instead of
moving on to the case history (scans.duplicates)."""

import hashlib

import pytest

from scans.models import Scan
from tests.e2e.test_browser import browser_page  # noqa: F401  (the fixture)
from tests.e2e.test_pages import _log_in
from tests.factories import PatientFactory, ScanFactory
from tests.images import png_bytes

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_a_repeated_image_is_uploaded_and_named_beside_its_file(
    live_server,
    browser_page,  # noqa: F811 (the fixture imported above)
    team,
    owner,
    fake_weights,
    tmp_path,  # noqa: F811
):
    patient = PatientFactory(team=team, created_by=owner)
    repeat, new = tmp_path / "repeat.png", tmp_path / "new.png"
    repeat.write_bytes(png_bytes())
    new.write_bytes(png_bytes(80, 80))
    earlier = ScanFactory(patient=patient, sha256=hashlib.sha256(repeat.read_bytes()).hexdigest())
    page = browser_page
    _log_in(page, live_server.url, owner.username)
    page.goto(f"{live_server.url}/upload/?patient={patient.pk}")
    page.get_by_label("Images").set_input_files([str(repeat), str(new)])
    page.get_by_role("button", name="Upload and classify").click()
    summary = page.locator("#upload-summary")
    summary.filter(has_text="2 uploaded").wait_for(timeout=30_000)

    assert "/upload/" in page.url
    assert "some repeat an image uploaded before" in summary.inner_text()
    rows = page.locator(".file-row")
    assert f"the same image was uploaded before as scan {earlier.pk}; both are kept" in rows.nth(0).inner_text()
    assert "the same image" not in rows.nth(1).inner_text()
    assert Scan.objects.filter(patient=patient).count() == 3
