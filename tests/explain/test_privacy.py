"""What leaves the site: pixels only when allowed, and never a patient identifier (promise 11)."""

import base64
import dataclasses

import pytest

from scans.explain import ExplainConfig, PredictionFacts, RegionStats, ScanFacts, explain

from .factories import PROBABILITIES, make_png, png_chunk, region_stats
from .fake_gemini import ok
from .test_gemini import GOOD

PATIENT = {
    "name": "Jane Q. Testpatient",
    "mrn": "MRN-0042-7731",
    "birth_year": "1957",
    "notes": "Allergic to gadolinium; daughter Ada phones on Fridays",
}


def scan_record():
    """A scan as the portal holds it: identifiers sit right next to the pixels and results."""
    return {
        "patient": PATIENT,
        "original_filename": "testpatient_jane_MRN-0042-7731.png",
        "uploaded_by_note": "second opinion for Jane",
        "image_png": make_png(1),
        "predictions": [
            {
                "model": "custom_cnn",
                "display_name": "Custom CNN",
                "label": "glioma",
                "probabilities": PROBABILITIES["glioma"],
                "gradcam_stats": region_stats("lower-left"),
                "gradcam_png": make_png(2),
            }
        ],
    }


def facts_from(record) -> ScanFacts:
    return ScanFacts(
        scan_png=record["image_png"],
        predictions=[
            PredictionFacts(
                model=p["model"],
                display_name=p["display_name"],
                label=p["label"],
                probabilities=p["probabilities"],
                regions=RegionStats.from_stats(p["gradcam_stats"]),
                overlay_png=p["gradcam_png"],
            )
            for p in record["predictions"]
        ],
    )


def test_the_request_carries_the_scan_and_the_overlay(fake_gemini, config):
    record = scan_record()
    fake_gemini.reply_with(ok(GOOD))

    explain(facts_from(record), config)

    # The SDK encodes bytes as URL-safe base64 (google/genai/_common.py), which the API accepts.
    raw = fake_gemini.requests[0].raw
    assert base64.urlsafe_b64encode(record["image_png"]) in raw
    assert base64.urlsafe_b64encode(record["predictions"][0]["gradcam_png"]) in raw
    parts = fake_gemini.requests[0].json()["contents"][0]["parts"]
    assert [part["inlineData"]["mime_type"] for part in parts[1:]] == ["image/png", "image/png"]


def test_the_raw_request_contains_no_patient_identifier(fake_gemini, config):
    record = scan_record()
    fake_gemini.reply_with(ok(GOOD))

    explain(facts_from(record), config)

    raw = fake_gemini.requests[0].raw.lower()
    identifiers = [
        *PATIENT.values(),
        record["original_filename"],
        record["uploaded_by_note"],
        "testpatient",
    ]
    for text in identifiers:
        assert text.lower().encode() not in raw, text


@pytest.mark.parametrize("privacy", ["images", "text"])
def test_the_api_key_travels_only_in_its_header(fake_gemini, config, privacy):
    fake_gemini.reply_with(ok(GOOD))

    explain(facts_from(scan_record()), dataclasses.replace(config, privacy=privacy))

    request = fake_gemini.requests[0]
    assert b"test-key-123" not in request.body
    assert "test-key-123" not in request.path


def test_text_mode_sends_no_pixels(fake_gemini, config):
    record = scan_record()
    fake_gemini.reply_with(ok(GOOD))

    outcome = explain(facts_from(record), dataclasses.replace(config, privacy="text"))

    assert outcome.provider == "gemini"
    request = fake_gemini.requests[0]
    assert b"inlineData" not in request.raw
    assert base64.urlsafe_b64encode(record["image_png"])[:40] not in request.raw
    assert "No images are attached" in request.json()["contents"][0]["parts"][0]["text"]


def test_off_mode_never_calls_gemini_even_with_a_key(fake_gemini, config):
    outcome = explain(facts_from(scan_record()), dataclasses.replace(config, privacy="off"))

    assert fake_gemini.requests == []
    assert (outcome.provider, outcome.is_fallback, outcome.attempts) == ("offline", False, 0)
    assert "privacy setting" in outcome.reason


def test_without_a_key_it_explains_offline_without_a_request(fake_gemini, config):
    outcome = explain(facts_from(scan_record()), dataclasses.replace(config, api_key=None))

    assert fake_gemini.requests == []
    assert (outcome.provider, outcome.is_fallback) == ("offline", False)
    assert "no Gemini API key" in outcome.reason


def test_facts_have_no_place_for_identifiers():
    fields = {f.name for f in dataclasses.fields(ScanFacts)} | {
        f.name for f in dataclasses.fields(PredictionFacts)
    }
    assert fields == {
        "scan_png", "predictions",
        "model", "display_name", "label", "probabilities", "regions", "overlay_png",
        "outcome", "outcome_reason",
    }  # fmt: skip


def test_facts_refuse_a_png_with_text_metadata():
    tagged = make_png(1, extra_chunks=png_chunk(b"tEXt", b"Comment\x00Jane Q. Testpatient"))

    with pytest.raises(ValueError, match="tEXt"):
        ScanFacts(scan_png=tagged, predictions=facts_from(scan_record()).predictions)


def test_facts_refuse_a_png_with_bytes_after_its_end():
    with pytest.raises(ValueError, match="after the end"):
        ScanFacts(
            scan_png=make_png(1) + b"MRN-0042-7731",
            predictions=facts_from(scan_record()).predictions,
        )


def test_facts_refuse_a_model_name_that_is_not_a_registry_id():
    record = scan_record()
    record["predictions"][0]["model"] = "Jane Q. Testpatient"

    with pytest.raises(ValueError, match="registry id"):
        facts_from(record)


def test_the_config_repr_hides_the_api_key():
    assert "secret-key" not in repr(ExplainConfig(api_key="secret-key"))
