"""Plain-language explanations of a scan's classification: Gemini or the offline explainer.

Nothing here imports Django, and the google-genai SDK is imported only when Gemini is called.

    facts = ScanFacts(scan_png=..., predictions=[PredictionFacts(
        model="custom_cnn", display_name="Custom CNN", label="glioma",
        probabilities={...}, regions=RegionStats.from_stats(heatmap.stats),
        overlay_png=heatmap.overlay_png)])
    outcome = explain(facts, ExplainConfig(api_key=..., privacy="images"))
"""

from .config import DEFAULT_MODEL, PRIVACY_MODES, ExplainConfig
from .explainer import Outcome, explain, offline_fallback
from .facts import PredictionFacts, RegionStats, ScanFacts
from .offline import OFFLINE_VERSION
from .prompts import PROMPT_VERSION

__all__ = [
    "DEFAULT_MODEL",
    "OFFLINE_VERSION",
    "PRIVACY_MODES",
    "PROMPT_VERSION",
    "ExplainConfig",
    "Outcome",
    "PredictionFacts",
    "RegionStats",
    "ScanFacts",
    "explain",
    "offline_fallback",
]
