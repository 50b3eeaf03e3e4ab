"""Refused and uncertain results: a refused image never reaches Gemini and its text says why;
an uncertain one is explained with the uncertainty first."""

import dataclasses

from scans.explain import explain
from scans.explain.content import validate_content
from scans.explain.offline import REFUSED_NEXT_STEP, explain_offline

from .factories import REFUSAL, prediction, refused, scan_facts, uncertain
from .fake_gemini import ok
from .test_gemini import GOOD


def test_a_refused_image_is_never_sent_to_gemini(fake_gemini, config):
    fake_gemini.reply_with(ok(GOOD))
    outcome = explain(scan_facts(refused()), config)

    assert fake_gemini.requests == []
    assert (outcome.provider, outcome.is_fallback, outcome.attempts) == ("offline", False, 0)
    assert "not recognised as a brain MRI slice" in outcome.reason


def test_a_scan_refused_by_one_of_two_models_is_not_sent_either(fake_gemini, config):
    outcome = explain(scan_facts(prediction("glioma"), refused(model="xception", display_name="Xception")), config)
    assert fake_gemini.requests == []
    assert outcome.provider == "offline"


def test_the_offline_text_of_a_refusal_says_why_and_what_to_do_and_gives_no_class():
    content = explain_offline(scan_facts(refused()))

    assert validate_content(content) == content
    assert content["summary"].startswith(REFUSAL)
    assert REFUSED_NEXT_STEP in content["summary"]
    assert content["regions"] == []
    text = " ".join([content["summary"], *content["supporting_findings"], *content["caveats"]])
    assert "no tumour (" not in text and "classifies this slice" not in text
    assert "Grad-CAM" not in text


def test_an_uncertain_result_leads_with_the_uncertainty():
    content = explain_offline(scan_facts(uncertain()))

    assert content["summary"].startswith("Uncertain — needs a radiologist's read: Custom CNN is too unsure")
    assert "leans to glioma (55%) over meningioma (40%)" in content["summary"]
    assert any("uncertain result" in caveat for caveat in content["caveats"])


def test_a_classified_result_does_not_mention_uncertainty():
    content = explain_offline(scan_facts(prediction("glioma")))
    assert not content["summary"].startswith("Uncertain")
    assert not any("uncertain result" in caveat for caveat in content["caveats"])


def test_gemini_is_told_the_outcome_word_but_not_the_engines_sentence(fake_gemini, config):
    fake_gemini.reply_with(ok(GOOD))
    explain(scan_facts(uncertain()), config)

    prompt = fake_gemini.requests[0].json()["contents"][0]["parts"][0]["text"]
    assert '"outcome": "uncertain"' in prompt
    assert "82% it needs" not in prompt


def test_facts_reject_an_unknown_outcome():
    import pytest

    with pytest.raises(ValueError, match="outcome"):
        dataclasses.replace(prediction(), outcome="maybe")
