"""explain(): Gemini when configured and allowed; the offline explainer otherwise or on failure."""

import logging
import time
from dataclasses import dataclass
from typing import Any, Literal

from .config import ExplainConfig
from .content import render_text
from .facts import ScanFacts
from .offline import OFFLINE_VERSION, explain_offline
from .prompts import PROMPT_VERSION
from .retry import GaveUp, call_with_retries

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    """One explanation of one scan, ready to store as an Explanation row.

    model: the Gemini model that answered (its reported version when it gives one), None offline.
    prompt_version: the Gemini prompt's version, or the offline template's.
    content: {summary, regions, supporting_findings, caveats}; text: the same as plain text.
    is_fallback: Gemini was meant to answer but failed for good; reason says why.
    reason: why the text did not come from Gemini (None when it did).
    attempts: Gemini requests made (0 when none was).
    """

    provider: Literal["gemini", "offline"]
    model: str | None
    prompt_version: str
    content: dict[str, Any]
    text: str
    is_fallback: bool
    reason: str | None
    latency_ms: int
    attempts: int


def explain(facts: ScanFacts, config: ExplainConfig) -> Outcome:
    """Explain one scan's predictions. Never raises for a Gemini failure: it falls back offline.
    A refused scan is never sent to Gemini: the offline text says why it was refused."""
    started = time.monotonic()
    if facts.refused:
        return _offline(facts, started, reason="the image was not recognised as a brain MRI slice")
    if config.privacy == "off":
        return _offline(facts, started, reason="Gemini is turned off by the privacy setting")
    if not config.api_key:
        return _offline(facts, started, reason="no Gemini API key is configured")
    # Imported here so installs that never call Gemini do not load the SDK.
    from . import gemini

    try:
        with gemini.make_client(config) as client:
            reply, attempts = call_with_retries(
                lambda timeout_s: gemini.generate(client, facts, config, timeout_s=timeout_s),
                max_attempts=config.max_attempts,
                timeout_s=config.timeout_s,
                backoff_base_s=config.backoff_base_s,
                backoff_cap_s=config.backoff_cap_s,
                budget_s=config.budget_s,
            )
    except GaveUp as exc:
        return _offline(facts, started, reason=exc.reason, fallback=True, attempts=exc.attempts)
    except Exception as exc:
        # Setting up or closing the client failed (a malformed base_url, say): the scan must
        # still get its explanation, so log it in full and fall back.
        logger.exception("Could not use the Gemini client")
        return _offline(facts, started, reason=f"unexpected error: {type(exc).__name__}", fallback=True)
    return Outcome(
        provider="gemini",
        model=reply.model_version,
        prompt_version=PROMPT_VERSION,
        content=reply.content,
        text=render_text(reply.content),
        is_fallback=False,
        reason=None,
        latency_ms=_ms_since(started),
        attempts=attempts,
    )


def offline_fallback(facts: ScanFacts, reason: str) -> Outcome:
    """The offline explanation marked as a fallback, for a caller whose own step failed."""
    return _offline(facts, time.monotonic(), reason=reason, fallback=True)


def _offline(facts: ScanFacts, started: float, *, reason: str, fallback: bool = False, attempts: int = 0) -> Outcome:
    content = explain_offline(facts)
    return Outcome(
        provider="offline",
        model=None,
        prompt_version=OFFLINE_VERSION,
        content=content,
        text=render_text(content),
        is_fallback=fallback,
        reason=reason,
        latency_ms=_ms_since(started),
        attempts=attempts,
    )


def _ms_since(started: float) -> int:
    return round((time.monotonic() - started) * 1000)
