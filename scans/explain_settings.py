"""The Django settings of scans.explain, read in one place: the worker's ExplainConfig and the
privacy mode staff see. Imports no SDK, so the web process can use it."""

from dataclasses import dataclass

from django.conf import settings

from scans.explain import ExplainConfig

PRIVACY_DESCRIPTIONS = {
    "images": "the re-encoded scan, its Grad-CAM overlays and the numbers are sent to Gemini",
    "text": "only the numbers (class, probabilities, heat-map statistics) are sent to Gemini",
    "off": "nothing is sent to Gemini; explanations are written offline",
}


@dataclass(frozen=True)
class GeminiMode:
    privacy: str
    model: str
    configured: bool

    @property
    def effective(self) -> str:
        """What actually happens: with no key, the setting says images but nothing is sent."""
        return self.privacy if self.configured else "off"

    @property
    def description(self) -> str:
        text = PRIVACY_DESCRIPTIONS[self.effective]
        if not self.configured and self.privacy != "off":
            text += " (no Gemini API key is configured)"
        return text


def explain_config() -> ExplainConfig:
    return ExplainConfig(
        api_key=settings.GEMINI_API_KEY or None,
        model=settings.GEMINI_MODEL,
        base_url=settings.GEMINI_BASE_URL or None,
        privacy=settings.GEMINI_PRIVACY,
        timeout_s=settings.GEMINI_TIMEOUT_SECONDS,
        max_attempts=settings.GEMINI_MAX_ATTEMPTS,
        backoff_base_s=settings.GEMINI_BACKOFF_SECONDS,
        backoff_cap_s=settings.GEMINI_BACKOFF_CAP_SECONDS,
        budget_s=settings.GEMINI_BUDGET_SECONDS,
    )


def gemini_mode() -> GeminiMode:
    return GeminiMode(
        privacy=settings.GEMINI_PRIVACY,
        model=settings.GEMINI_MODEL,
        configured=bool(settings.GEMINI_API_KEY),
    )
