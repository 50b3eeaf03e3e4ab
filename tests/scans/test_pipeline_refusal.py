"""A refused image goes through the whole pipeline as a result: the scan ends `done`, its
prediction says `refused` with the reason, Gemini is never called, and the offline text says
why. An uncertain one ends `done` too, explained with the uncertainty first."""

import pytest

from scans import pipeline
from scans.models import Explanation, Outcome, Scan
from tests.factories import ScanFactory
from tests.scans.stub_engine import REFUSED, UNCERTAIN, StubEngine
from tests.scans.test_explain_scan import gemini  # noqa: F401  (the fake Gemini server fixture)

pytestmark = pytest.mark.django_db


def run_both_steps(scan, monkeypatch, result):
    monkeypatch.setattr(pipeline, "_engine", lambda name: StubEngine(name, result=result))
    pipeline.classify_scan(scan.pk)
    pipeline.explain_scan(scan.pk)
    scan.refresh_from_db()
    return scan


def test_a_refused_scan_ends_done_with_the_reason_and_no_gemini_call(gemini, monkeypatch):  # noqa: F811
    scan = run_both_steps(ScanFactory(), monkeypatch, REFUSED)

    assert (scan.status, scan.error) == (Scan.Status.DONE, "")
    prediction = scan.predictions.get()
    assert prediction.outcome == Outcome.REFUSED
    assert prediction.outcome_reason == REFUSED.reason
    assert gemini.requests == []
    explanation = scan.explanation
    assert (explanation.provider, explanation.status, explanation.is_fallback) == ("offline", "done", False)
    assert explanation.content["summary"].startswith(REFUSED.reason)
    assert "not recognised as a brain MRI slice" in explanation.error


def test_an_uncertain_scan_ends_done_and_its_explanation_leads_with_the_uncertainty(monkeypatch):
    scan = run_both_steps(ScanFactory(), monkeypatch, UNCERTAIN)

    assert scan.status == Scan.Status.DONE
    assert scan.predictions.get().outcome == Outcome.UNCERTAIN
    assert Explanation.objects.get(scan=scan).content["summary"].startswith("Uncertain — needs a radiologist's read")
