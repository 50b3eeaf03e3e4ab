"""How explanations are produced: which provider, what may be sent, how long we may wait."""

from dataclasses import dataclass, field
from typing import Literal

# An alias that Google repoints to each new GA Flash model, so installs keep working as
# pinned Flash versions are retired (1.5 and 2.0 already are).
DEFAULT_MODEL = "gemini-flash-latest"

Privacy = Literal["images", "text", "off"]
PRIVACY_MODES: tuple[str, ...] = ("images", "text", "off")


@dataclass(frozen=True)
class ExplainConfig:
    """Settings for `explain()`; the Django side builds one from its settings.

    privacy: "images" sends the scan and the Grad-CAM overlays, "text" sends numbers only,
    "off" never calls Gemini. With no api_key, Gemini is never called either.

    Time: each attempt waits at most timeout_s (per network operation, as httpx counts it);
    failed attempts back off backoff_base_s, 2×, 4×… capped at backoff_cap_s; no attempt or
    back-off starts that would end after budget_s from the start (default under 2 minutes,
    RELIABILITY.md promise 16).
    """

    # Kept out of repr so the key never reaches logs or error reports that way.
    api_key: str | None = field(default=None, repr=False)
    model: str = DEFAULT_MODEL
    base_url: str | None = None
    privacy: Privacy = "images"
    timeout_s: float = 40.0
    max_attempts: int = 4
    backoff_base_s: float = 2.0
    backoff_cap_s: float = 16.0
    budget_s: float = 110.0

    def __post_init__(self) -> None:
        if self.privacy not in PRIVACY_MODES:
            raise ValueError(f"privacy must be one of {', '.join(PRIVACY_MODES)}")
        if not self.model:
            raise ValueError("model must name a Gemini model")
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        for name in ("timeout_s", "budget_s"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")
        for name in ("backoff_base_s", "backoff_cap_s"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative")

    @property
    def uses_gemini(self) -> bool:
        return bool(self.api_key) and self.privacy != "off"
