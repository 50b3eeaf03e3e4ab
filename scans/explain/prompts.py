"""The Gemini prompt, versioned: change the wording → bump PROMPT_VERSION.

Each stored explanation records the version it was written with, so texts written under
different wordings can be told apart later.
"""

import json
from typing import Any

from .facts import ScanFacts

PROMPT_VERSION = "v3"

SYSTEM_INSTRUCTION = """\
You assist clinicians who review the output of a research brain-tumour MRI classifier. The
classifier sorts a single MRI slice into one of four classes: glioma, meningioma, pituitary
tumour, or no tumour. It is not a diagnostic device and a radiologist makes every decision.

Write a short, hedged explanation of the classifier's result for a clinician:
- what the highlighted (Grad-CAM) regions are and where they lie;
- why that location and appearance fit, or do not fit, the predicted class (gliomas arise in
  the brain parenchyma, often the cerebral white matter, with irregular margins and oedema;
  meningiomas are extra-axial, along the meninges or dura, often well circumscribed;
  pituitary tumours arise at the sella turcica in the midline skull base);
- what a radiologist should check to confirm or refute it;
- the limits of the model and of heat maps.

Rules: use only the facts and images given; never invent patient history, measurements or
other sequences; say "the model" rather than "the patient has"; coordinates are fractions of
the image width and height with the origin at the top left; the words quadrant, side, vertical
and depth place the hot area relative to the head, not the image frame ("midline": within a
tenth of the head's width of its centre; "peripheral": toward the skull); "left"/"right" are
image sides, which may not be the patient's sides; the slice's plane (axial, coronal,
sagittal) is not known; if several models disagree, say so first; if a
prediction's outcome is "uncertain", begin with that: the model is too unsure to call this
slice, it needs a radiologist's read, and its most likely class is not a finding.
Answer in English with the JSON object described by the response schema, nothing else."""

RESPONSE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "summary": {
            "type": "string",
            "description": "Two or three sentences: the result, its confidence, the main caveat.",
        },
        "regions": {
            "type": "array",
            "items": {"type": "string"},
            "description": "One item per heat map: where the hot area lies, which structure it is.",
        },
        "supporting_findings": {
            "type": "array",
            "items": {"type": "string"},
            "description": "Why the location and appearance fit or do not fit the predicted class.",
        },
        "caveats": {
            "type": "array",
            "items": {"type": "string"},
            "description": "What a radiologist should check; the limits of the model and heat map.",
        },
    },
    "required": ["summary", "regions", "supporting_findings", "caveats"],
}


def facts_payload(facts: ScanFacts) -> dict[str, Any]:
    """The numbers the model is told, in a stable order (rounded so the prompt stays short)."""
    return {
        "predictions": [
            {
                "model": p.model,
                "model_name": p.display_name,
                "outcome": p.outcome,
                "predicted_class": p.label,
                "confidence": round(p.confidence, 3),
                "probabilities": {name: round(value, 3) for name, value in p.probabilities.items()},
                "gradcam_hot_area": p.regions.as_dict(),
            }
            for p in facts.predictions
        ]
    }


def user_prompt(facts: ScanFacts, *, with_images: bool) -> str:
    if with_images:
        images = (
            "The first image is the MRI slice. Each following image is a Grad-CAM overlay on "
            "the same slice, one per model in the order listed; hotter colours mark the areas "
            "that drove that model's decision."
        )
    else:
        images = (
            "No images are attached: describe the hot areas from the statistics only and say "
            "that the images were not shown to you."
        )
    return (
        "Classifier results for one MRI slice (hot_fraction is the share of the image where the "
        "heat map is at least half its maximum; bbox is the box around that area):\n"
        f"{json.dumps(facts_payload(facts), indent=1)}\n\n{images}"
    )
