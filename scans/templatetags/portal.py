"""Display names and small helpers of the portal's templates. Machines read the class names
(`notumor`); people read these."""

import functools
import json

from django import template
from django.http import QueryDict

from scans.final_result import FinalResult, final_result_of
from scans.ml import registry
from scans.ml.classes import CLASS_NAMES
from scans.ml.errors import WeightsError

register = template.Library()

LABEL_DISPLAY = {
    "glioma": "Glioma",
    "meningioma": "Meningioma",
    "notumor": "No tumour",
    "pituitary": "Pituitary tumour",
}


# Every final result people read: the classes, the model's abstention and refusal, and the
# reviewer's verdicts that are not a class (scans.final_result.RESULT_KEYS).
RESULT_DISPLAY = {
    **LABEL_DISPLAY,
    "uncertain": "Uncertain",
    "refused": "Not recognised as brain MRI",
    "not_brain_mri": "Not a brain MRI",
    "non_diagnostic": "Non-diagnostic image",
    "other_pathology": "Other pathology",
}


@register.filter
def label_display(name: str) -> str:
    return LABEL_DISPLAY.get(name, name)


@register.filter
def result_display(key: str) -> str:
    return RESULT_DISPLAY.get(key, key)


@register.filter
def final_result(scan) -> FinalResult | None:
    return final_result_of(scan)


@register.filter
def certainty(value: float | None) -> str:
    """A probability as people should read it: the calibration is good to about a percent,
    so whole percents, and never "100 %" or "0 %" — the ends say "> 99 %" and "< 1 %"."""
    if value is None:
        return "—"
    if value > 0.99:
        return "> 99 %"
    if value < 0.01:
        return "< 1 %"
    return f"{min(99, max(1, round(100 * value)))} %"


@register.filter
def model_display(name: str) -> str:
    facts = registry.ARCHITECTURE_FACTS.get(name)
    return facts.display_name if facts else name


# The kinds of image a refusal development set is sorted into (one folder each); any other
# folder name is shown with its underscores as spaces.
IMAGE_KIND_DISPLAY = {
    "chest_xray": "Chest X-ray",
    "ct_body": "Body CT",
    "ct_head": "Head CT",
    "document": "Document",
    "mri_other": "Other MRI",
    "photo": "Photograph",
    "skin": "Skin photograph",
    "ultrasound": "Ultrasound",
    "xray_other": "Other X-ray",
}


@register.filter
def image_kind_display(kind: str) -> str:
    return IMAGE_KIND_DISPLAY.get(kind, kind.replace("_", " ").capitalize())


@functools.cache
def _card_localisation(name: str) -> tuple[str, dict]:
    """(weights sha256, "where the heat maps point" figures) of the installed model; read once
    per process, like the weights themselves."""
    try:
        card = registry.read_card(name)
    except WeightsError:  # a missing or broken card only loses the caption's figure
        return "", {}
    return str(card.get("sha256", "")), card.get("localisation") or {}


@register.filter
def pointing_game(prediction, kind: str) -> float | None:
    """How often this kind of map (gradcam, saliency) peaks on the tumour, as measured on the
    validation slices with a tumour outline, for the model version that drew this prediction;
    None when that version's card has no figure."""
    sha256, localisation = _card_localisation(prediction.model_name)
    if sha256 != prediction.model_version or kind not in localisation:
        return None
    return float(localisation[kind]["pointing_game"])


@register.filter
def percent(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f} %"


@register.filter
def ordered_probabilities(prediction) -> list[tuple[str, float]]:
    """(class, probability) in the one class order: PostgreSQL's jsonb does not keep keys in order."""
    return [(name, prediction.probabilities.get(name, 0.0)) for name in CLASS_NAMES]


# The worker's stages in the order they run (scans.pipeline); anything else after them.
TIMING_ORDER = ("decode", "inference", "gradcam", "saliency", "overlay", "png", "storage", "total_ms")


@register.filter
def ordered_timings(timings: dict) -> list[tuple[str, float]]:
    rank = {stage: i for i, stage in enumerate(TIMING_ORDER)}
    return sorted(timings.items(), key=lambda item: (rank.get(item[0], len(rank) - 1), item[0]))


@register.filter
def probability_series(scan) -> list[dict]:
    """The scan page's bar chart data: per model, the four probabilities with display names."""
    return [
        {
            "model": model_display(p.model_name),
            "labels": [label_display(name) for name in CLASS_NAMES],
            "values": [round(value, 6) for _, value in ordered_probabilities(p)],
        }
        for p in scan.predictions.all()
    ]


@register.filter
def history_series(points: list[dict]) -> list[dict]:
    """The case-history chart's points with the names people read and their certainty text."""
    return [{**p, "name": result_display(p["result"]), "certainty": certainty(p["y"])} for p in points]


@register.filter
def confusion_rows(card: dict) -> list[dict]:
    """A model card's confusion matrix, each row with its true class."""
    matrix = card.get("validation", {}).get("confusion_matrix", [])
    return [{"label": label, "counts": row} for label, row in zip(card.get("class_names", []), matrix)]


@register.filter
def to_json(value) -> str:
    """JSON for a data- attribute (autoescaping makes it safe there). Not json_script: htmx
    drops <script> elements from the content it swaps in."""
    return json.dumps(value, separators=(",", ":"))


@register.simple_tag
def query_with(query: QueryDict, **changes) -> str:
    """The current query string with some parameters changed (pagination and sorting keep
    the filters); a change to None or "" removes the parameter."""
    updated = query.copy()
    for key, value in changes.items():
        if value in (None, ""):
            updated.pop(key, None)
        else:
            updated[key] = value
    return "?" + updated.urlencode() if updated else "?"
