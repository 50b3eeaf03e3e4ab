"""The real google-genai client against the local fake Gemini server."""

import dataclasses
import functools
import math

from scans.explain import PROMPT_VERSION, explain, explainer
from scans.explain.offline import OFFLINE_NOTICE
from scans.explain.prompts import RESPONSE_SCHEMA
from scans.explain.retry import call_with_retries

from .factories import scan_facts
from .fake_gemini import blocked, error, hang, ok, raw

GOOD = {
    "summary": "The model favours glioma; the hot area is in the left hemisphere.",
    "regions": ["Custom CNN: lower-left hot area, about 12% of the image."],
    "supporting_findings": ["An off-midline parenchymal location fits a glioma."],
    "caveats": ["Check FLAIR for oedema.", "Not a diagnosis."],
}


def test_it_returns_geminis_structured_explanation(fake_gemini, config):
    fake_gemini.reply_with(ok(GOOD))

    outcome = explain(scan_facts(), config)

    assert outcome.provider == "gemini"
    assert outcome.content == GOOD
    assert outcome.model == "gemini-test-flash-001"
    assert outcome.prompt_version == PROMPT_VERSION
    assert (outcome.is_fallback, outcome.reason, outcome.attempts) == (False, None, 1)
    assert outcome.text.startswith("Summary\nThe model favours glioma")
    assert "Caveats\n- Check FLAIR for oedema.\n- Not a diagnosis." in outcome.text


def test_it_posts_generate_content_with_a_json_schema_and_the_key_in_a_header(fake_gemini, config):
    fake_gemini.reply_with(ok(GOOD))

    explain(scan_facts(), config)

    (request,) = fake_gemini.requests
    assert request.path.endswith("/models/gemini-flash-latest:generateContent")
    assert request.headers["x-goog-api-key"] == "test-key-123"
    assert "test-key-123" not in request.path
    body = request.json()
    assert body["generationConfig"]["responseMimeType"] == "application/json"
    assert body["generationConfig"]["responseJsonSchema"] == RESPONSE_SCHEMA
    assert "clinicians" in body["systemInstruction"]["parts"][0]["text"]
    assert '"predicted_class": "glioma"' in body["contents"][0]["parts"][0]["text"]


def test_it_gives_the_sdk_its_timeout_in_milliseconds(fake_gemini, config):
    fake_gemini.reply_with(ok(GOOD))

    explain(scan_facts(), config)

    # The SDK derives this header from HttpOptions.timeout (ms → s); 7 s sent as 7 ms would read 1.
    assert fake_gemini.requests[0].headers["X-Server-Timeout"] == str(math.ceil(config.timeout_s))


def test_it_retries_after_a_429_and_then_succeeds(fake_gemini, config):
    fake_gemini.reply_with(error(429, "RESOURCE_EXHAUSTED"), ok(GOOD))

    outcome = explain(scan_facts(), config)

    assert (outcome.provider, outcome.attempts, outcome.is_fallback) == ("gemini", 2, False)
    assert len(fake_gemini.requests) == 2


def test_it_falls_back_offline_when_gemini_stays_unavailable(fake_gemini, config):
    fake_gemini.reply_with(error(503, "UNAVAILABLE"))

    outcome = explain(scan_facts(), config)

    assert (outcome.provider, outcome.is_fallback, outcome.model) == ("offline", True, None)
    assert "HTTP 503 UNAVAILABLE" in outcome.reason
    assert "after 3 attempts" in outcome.reason
    assert outcome.attempts == 3
    # One request per attempt: the SDK's own retries are off, so our budget is the only one.
    assert len(fake_gemini.requests) == 3
    assert OFFLINE_NOTICE in outcome.content["caveats"]


def test_it_retries_a_gateway_error_whose_body_is_not_json(fake_gemini, config):
    fake_gemini.reply_with(raw(502, b"<html>Bad Gateway</html>"), ok(GOOD))

    outcome = explain(scan_facts(), config)

    assert (outcome.provider, outcome.attempts) == ("gemini", 2)


def test_it_retries_a_408_request_timeout(fake_gemini, config):
    fake_gemini.reply_with(error(408, "REQUEST_TIMEOUT"), ok(GOOD))

    outcome = explain(scan_facts(), config)

    assert (outcome.provider, outcome.attempts, outcome.is_fallback) == ("gemini", 2, False)
    assert len(fake_gemini.requests) == 2


def test_it_does_not_retry_a_400(fake_gemini, config):
    fake_gemini.reply_with(error(400, "INVALID_ARGUMENT"), ok(GOOD))

    outcome = explain(scan_facts(), config)

    assert (outcome.provider, outcome.is_fallback, outcome.attempts) == ("offline", True, 1)
    assert "HTTP 400 INVALID_ARGUMENT" in outcome.reason
    assert len(fake_gemini.requests) == 1


def test_it_times_out_a_hung_request_and_falls_back(fake_gemini, config):
    fake_gemini.reply_with(hang())

    outcome = explain(scan_facts(), dataclasses.replace(config, timeout_s=0.3, max_attempts=2))

    assert (outcome.provider, outcome.is_fallback, outcome.attempts) == ("offline", True, 2)
    # "timed out" is the client's own timeout: the fake holds a hung request for 30 s and
    # then drops it, which would read as a disconnect.
    assert "timed out" in outcome.reason
    assert len(fake_gemini.requests) == 2


def test_it_recovers_when_a_retry_after_a_timeout_succeeds(fake_gemini, config):
    fake_gemini.reply_with(hang(), ok(GOOD))

    outcome = explain(scan_facts(), dataclasses.replace(config, timeout_s=0.3))

    assert (outcome.provider, outcome.attempts) == ("gemini", 2)


def test_it_retries_when_it_cannot_connect(fake_gemini, config):
    fake_gemini.stop()

    outcome = explain(scan_facts(), dataclasses.replace(config, max_attempts=2))

    assert (outcome.provider, outcome.is_fallback, outcome.attempts) == ("offline", True, 2)
    assert "Gemini request failed" in outcome.reason


class FakeClock:
    """Time that moves only when the retry loop sleeps, so the budget is tested, not the machine."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_it_stops_retrying_when_the_time_budget_is_spent(fake_gemini, config, monkeypatch):
    time = FakeClock()
    monkeypatch.setattr(
        explainer, "call_with_retries", functools.partial(call_with_retries, clock=time.clock, sleep=time.sleep)
    )
    fake_gemini.reply_with(error(500, "INTERNAL"))
    tight = dataclasses.replace(config, max_attempts=50, backoff_base_s=0.2, backoff_cap_s=0.2, budget_s=0.5)

    outcome = explain(scan_facts(), tight)

    assert outcome.is_fallback
    assert "time budget of 0.5 s spent" in outcome.reason
    # Back-offs of 0.1–0.2 s (jitter) fit 2 to 4 times in 0.5 s: 3 to 5 attempts, never 50.
    assert 3 <= outcome.attempts <= 5
    assert len(fake_gemini.requests) == outcome.attempts
    assert sum(time.sleeps) < 0.5


def test_it_falls_back_when_the_model_returns_malformed_json(fake_gemini, config):
    fake_gemini.reply_with(ok('{"summary": "cut off'), ok(GOOD))

    outcome = explain(scan_facts(), config)

    assert (outcome.provider, outcome.is_fallback, outcome.attempts) == ("offline", True, 1)
    assert "not valid JSON" in outcome.reason


def test_it_falls_back_when_the_json_has_the_wrong_shape(fake_gemini, config):
    fake_gemini.reply_with(ok({"summary": "Fine.", "regions": "lower-left", "caveats": []}))

    outcome = explain(scan_facts(), config)

    assert outcome.is_fallback
    assert "wrong shape" in outcome.reason


def test_it_falls_back_when_the_http_body_is_not_json(fake_gemini, config):
    fake_gemini.reply_with(raw(200, b"<html>proxy login</html>"))

    outcome = explain(scan_facts(), config)

    assert (outcome.provider, outcome.is_fallback, outcome.attempts) == ("offline", True, 1)


def test_it_falls_back_when_the_reply_is_blocked_without_text(fake_gemini, config):
    fake_gemini.reply_with(blocked())

    outcome = explain(scan_facts(), config)

    assert outcome.is_fallback
    assert "no text" in outcome.reason and "SAFETY" in outcome.reason
