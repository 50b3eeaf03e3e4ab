"""The explanation on the scan page: its sections, who wrote it and when, the fallback reason,
"pending" while it runs, and the Gemini privacy mode for staff."""

import pytest

from scans.models import Explanation, Scan
from tests.factories import PatientFactory, PredictionFactory

pytestmark = pytest.mark.django_db

CONTENT = {
    "summary": "The model favours a glioma.",
    "regions": ["Hot area in the lower-left quadrant."],
    "supporting_findings": ["Off the midline, where gliomas arise."],
    "caveats": ["A heat map is not a lesion outline."],
}


@pytest.fixture
def scan(team, owner):
    return PredictionFactory(scan__patient=PatientFactory(team=team, created_by=owner)).scan


def page(client, user, scan) -> str:
    client.force_login(user)
    return client.get(f"/scans/{scan.pk}/result/").content.decode()


def test_it_shows_each_section_of_geminis_explanation(client, owner, scan):
    Explanation.objects.create(
        scan=scan, provider="gemini", model="gemini-2.5-flash", status="done", content=CONTENT, text="…"
    )
    body = page(client, owner, scan)
    assert "<strong>Gemini gemini-2.5-flash</strong>" in body
    for heading in ("Summary", "Highlighted regions", "Supporting findings", "Caveats"):
        assert f"<h3>{heading}</h3>" in body
    for text in ("The model favours a glioma.", "Hot area in the lower-left quadrant.", "A heat map is not"):
        assert text in body
    assert "<time datetime=" in body


def test_an_offline_fallback_says_so_and_why(client, owner, scan):
    Explanation.objects.create(
        scan=scan,
        provider="offline",
        status="done",
        content=CONTENT,
        is_fallback=True,
        error="Gemini answered HTTP 503 UNAVAILABLE (after 4 attempts)",
    )
    body = page(client, owner, scan)
    assert "Offline explainer</strong> — generated without a language model" in body
    assert "Gemini could not be used, so this text was written offline: Gemini answered HTTP 503" in body


def test_the_explanation_is_pending_while_the_scan_is_classified(client, owner, scan):
    Scan.objects.filter(pk=scan.pk).update(status=Scan.Status.CLASSIFIED)
    Explanation.objects.create(scan=scan, provider="gemini")
    body = page(client, owner, scan)
    assert "Explanation pending." in body
    assert "hx-trigger" in body


def test_an_explanation_that_could_not_be_written_says_why(client, owner, scan):
    Explanation.objects.create(scan=scan, provider="offline", status="failed", error="internal error (ValueError)")
    assert "No explanation could be written: internal error (ValueError)." in page(client, owner, scan)


def test_text_from_the_model_is_escaped(client, owner, scan):
    Explanation.objects.create(
        scan=scan, provider="gemini", status="done", content={**CONTENT, "summary": "<script>alert(1)</script>"}
    )
    body = page(client, owner, scan)
    assert "<script>alert(1)</script>" not in body and "&lt;script&gt;" in body


def test_staff_see_the_privacy_mode_and_clinicians_do_not(client, owner, staff_reviewer, scan, settings):
    settings.GEMINI_API_KEY = "a-key"
    settings.GEMINI_PRIVACY = "text"
    assert "Gemini privacy mode" not in page(client, owner, scan)
    body = page(client, staff_reviewer, scan)
    assert "Gemini privacy mode: <strong>text</strong>" in body
    assert "only the numbers" in body


def test_without_a_key_staff_see_that_nothing_is_sent(client, staff_reviewer, scan, settings):
    settings.GEMINI_API_KEY = ""
    body = page(client, staff_reviewer, scan)
    assert "Gemini privacy mode: <strong>off</strong>" in body
    assert "no Gemini API key is configured" in body
