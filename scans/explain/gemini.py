"""One Gemini request through the google-genai SDK, its failures sorted into retryable or not."""

import json
import logging
from dataclasses import dataclass
from typing import Any

from google import genai
from google.genai import errors, types

from .config import ExplainConfig
from .content import InvalidContent, validate_content
from .facts import ScanFacts
from .prompts import RESPONSE_SCHEMA, SYSTEM_INSTRUCTION, user_prompt
from .retry import AttemptError

logger = logging.getLogger(__name__)


def is_retryable_status(code: int) -> bool:
    """Request timeout, rate limit, server errors: worth another attempt (RELIABILITY.md 16)."""
    return code in (408, 429) or 500 <= code <= 599


@dataclass(frozen=True)
class GeminiReply:
    content: dict[str, Any]
    model_version: str


def make_client(config: ExplainConfig) -> genai.Client:
    return genai.Client(
        # Explicit, so GOOGLE_GENAI_USE_VERTEXAI in the environment cannot reroute patient
        # images to another endpoint and account.
        vertexai=False,
        api_key=config.api_key,
        http_options=types.HttpOptions(
            base_url=config.base_url,
            # One attempt per call: our own loop owns retries, so the budget is the only one.
            retry_options=types.HttpRetryOptions(attempts=1),
        ),
    )


def build_contents(facts: ScanFacts, *, with_images: bool) -> list[types.Content]:
    parts = [types.Part.from_text(text=user_prompt(facts, with_images=with_images))]
    if with_images:
        parts.append(types.Part.from_bytes(data=facts.scan_png, mime_type="image/png"))
        parts.extend(
            types.Part.from_bytes(data=p.overlay_png, mime_type="image/png")
            for p in facts.predictions
        )
    return [types.Content(role="user", parts=parts)]


def generate(
    client: genai.Client, facts: ScanFacts, config: ExplainConfig, *, timeout_s: float
) -> GeminiReply:
    """One generateContent call; raise AttemptError on any failure."""
    try:
        response = client.models.generate_content(
            model=config.model,
            contents=build_contents(facts, with_images=config.privacy == "images"),
            config=types.GenerateContentConfig(
                system_instruction=SYSTEM_INSTRUCTION,
                response_mime_type="application/json",
                response_json_schema=RESPONSE_SCHEMA,
                temperature=0.2,
                # One attempt must stay one request: no continuation or tool-call round trips.
                automatic_continuation=False,
                automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True),
                # HttpOptions.timeout is in milliseconds; 0 would mean "no timeout" to the SDK.
                http_options=types.HttpOptions(timeout=max(1, int(timeout_s * 1000))),
            ),
        )
    except errors.APIError as exc:
        status = f"HTTP {exc.code} {exc.status or ''}".rstrip()
        detail = f": {exc.message[:200]}" if exc.message else ""
        raise AttemptError(
            f"Gemini answered {status}{detail}", retryable=is_retryable_status(exc.code)
        ) from exc
    except json.JSONDecodeError as exc:
        raise AttemptError("Gemini's reply was not JSON", retryable=False) from exc
    except Exception as exc:
        if _is_transport_error(exc):
            kind = "timed out" if _is_timeout(exc) else f"failed ({type(exc).__name__})"
            raise AttemptError(f"Gemini request {kind}", retryable=True) from exc
        # An SDK surprise must not cost the scan its explanation: keep the traceback in the
        # log and let the caller fall back like for any other failure.
        logger.exception("Unexpected error from the Gemini SDK")
        raise AttemptError(f"unexpected error: {type(exc).__name__}", retryable=False) from exc
    return GeminiReply(
        content=_parse(response), model_version=response.model_version or config.model
    )


def _parse(response: types.GenerateContentResponse) -> dict[str, Any]:
    text = response.text
    if not text:
        if response.prompt_feedback and response.prompt_feedback.block_reason:
            why = f"prompt blocked: {response.prompt_feedback.block_reason}"
        else:
            finish = response.candidates[0].finish_reason if response.candidates else None
            why = f"finish reason {finish}"
        raise AttemptError(f"Gemini returned no text ({why})", retryable=False)
    try:
        return validate_content(json.loads(text))
    except json.JSONDecodeError as exc:
        raise AttemptError("Gemini's explanation was not valid JSON", retryable=False) from exc
    except InvalidContent as exc:
        raise AttemptError(
            f"Gemini's explanation had the wrong shape: {exc}", retryable=False
        ) from exc


# The SDK sends through httpx or its fork httpx2 (whichever is installed), so match their
# exception classes by name instead of importing one transport and missing the other.
def _is_transport_error(exc: Exception) -> bool:
    return isinstance(exc, (TimeoutError, ConnectionError)) or _has_base(exc, "TransportError")


def _is_timeout(exc: Exception) -> bool:
    return isinstance(exc, TimeoutError) or _has_base(exc, "TimeoutException")


def _has_base(exc: Exception, name: str) -> bool:
    return any(cls.__name__ == name for cls in type(exc).__mro__)
