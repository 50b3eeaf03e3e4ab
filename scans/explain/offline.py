"""The explanation written without a language model: fixed sentences filled in from the facts.

Used when no Gemini key is configured, when the privacy setting turns Gemini off, and when
Gemini fails for good. Same facts in, same text out.
"""

from typing import Any

from .facts import PredictionFacts, RegionStats, ScanFacts

OFFLINE_VERSION = "offline-v3"

OFFLINE_NOTICE = (
    "Generated without a language model: this text is a fixed template filled in from the "
    "classifier's numbers and heat-map statistics."
)

CLASS_WORDS = {
    "glioma": "glioma",
    "meningioma": "meningioma",
    "notumor": "no tumour",
    "pituitary": "pituitary tumour",
}

# Where each class arises and what it looks like, then what a radiologist should check.
CLASS_PROFILES = {
    "glioma": (
        "Gliomas arise within the brain parenchyma (intra-axial), most often in the cerebral "
        "white matter of a hemisphere; they are often irregular or infiltrative with surrounding "
        "oedema and mass effect, and high-grade tumours may show ring enhancement and necrosis.",
        "For glioma, check T2/FLAIR for infiltrative signal and oedema, post-contrast T1 for "
        "enhancement and necrosis, and look for mass effect or midline shift.",
    ),
    "meningioma": (
        "Meningiomas are extra-axial tumours arising from the meninges (the dura), typically "
        "along the cerebral convexity, the falx or the skull base; they are usually well "
        "circumscribed with a broad dural base and displace the brain rather than infiltrate it.",
        "For meningioma, check for a broad dural base, a dural tail, a CSF cleft between lesion "
        "and brain, adjacent hyperostosis and homogeneous enhancement on post-contrast T1.",
    ),
    "pituitary": (
        "Pituitary tumours arise at the sella turcica in the midline skull base, below the optic "
        "chiasm; larger ones grow upward into the suprasellar region.",
        "For pituitary tumour, check dedicated sellar images for sellar enlargement, suprasellar "
        "extension, optic chiasm compression and cavernous sinus invasion, and correlate with "
        "endocrine tests.",
    ),
    "notumor": (
        "A 'no tumour' result means the slice did not resemble the three tumour classes the "
        "model knows; other abnormalities are outside what it was trained to recognise.",
        "For a 'no tumour' result, review the whole series rather than this slice: small or "
        "early lesions and non-tumour disease can be missed by a single-slice classifier.",
    ),
}

GENERAL_CAVEATS = (
    "A heat map shows which pixels influenced the model, not the boundary of a lesion.",
    "Left and right are sides of the image and may not be the patient's left and right.",
    "Whether the hot area lies where a class usually arises is judged on this one slice, whose "
    "plane (axial, coronal, sagittal) is not known: it is a clue, not a finding.",
    "The model saw one 2D slice and was trained on one public dataset; it is a research tool, "
    "not a diagnosis, and a radiologist must confirm or reject its result.",
)

# Verdicts on how the hot area's location compares with where the predicted class arises.
FITS = "matches the usual site of"
PARTLY = "only partly matches the usual site of"
POORLY = "does not match the usual site of"

DIFFUSE_FRACTION = 0.35
SMALL_MARGIN = 0.2


REFUSED_NEXT_STEP = (
    "Upload a brain MRI slice. If this is one, check that it is upright (a slice turned on its side "
    "is often refused) and upload it again, or ask a reviewer to look at it."
)
REFUSED_CAVEATS = (
    "The classifier only knows brain MRI slices: on any other image its four classes mean "
    "nothing, so its raw answer is kept for staff but not given as a result.",
    "A refusal can be wrong: an unusual export of a real MRI slice may be refused, and a reviewer can record that.",
)
UNCERTAIN_CAVEAT = (
    "An uncertain result is one the model gets wrong far more often than the results it calls: "
    "read the slice as if the model had given no answer."
)


def explain_offline(facts: ScanFacts) -> dict[str, Any]:
    """Structured content {summary, regions, supporting_findings, caveats} for these facts."""
    if facts.refused:
        return _refused(facts.predictions)
    predictions = facts.predictions
    findings = []
    for p in predictions:
        findings.append(_probability_finding(p))
        findings.append(_prefixed(p, predictions, _location_fit(p.label, p.regions)[1]))
    labels = list(dict.fromkeys(p.label for p in predictions))
    findings.extend(CLASS_PROFILES[label][0] for label in labels)
    return {
        "summary": _summary(predictions),
        "regions": [f"{p.display_name} (Grad-CAM): {_describe_area(p.regions)}." for p in predictions],
        "supporting_findings": findings,
        "caveats": [
            OFFLINE_NOTICE,
            *([UNCERTAIN_CAVEAT] if any(p.outcome == "uncertain" for p in predictions) else []),
            *(CLASS_PROFILES[label][1] for label in labels),
            *GENERAL_CAVEATS,
        ],
    }


def _refused(predictions: tuple[PredictionFacts, ...]) -> dict[str, Any]:
    """No class, no heat-map reading: why the image was refused, and what to do next."""
    reasons = [p for p in predictions if p.outcome == "refused"]
    first = reasons[0].outcome_reason or "Not recognised as a brain MRI slice."
    return {
        "summary": (
            f"{first} No tumour class is given for it. {REFUSED_NEXT_STEP} Generated without a language model."
        ),
        "regions": [],
        "supporting_findings": [
            f"{p.display_name}: {p.outcome_reason or 'not recognised as a brain MRI slice.'}" for p in reasons
        ],
        "caveats": [OFFLINE_NOTICE, *REFUSED_CAVEATS],
    }


def _summary(predictions: tuple[PredictionFacts, ...]) -> str:
    labels = {p.label for p in predictions}
    if len(labels) > 1:
        verdicts = ", ".join(
            f"{p.display_name} says {CLASS_WORDS[p.label]} ({_pct(p.confidence)})" for p in predictions
        )
        opening = f"The models disagree: {verdicts}; treat the result as uncertain."
    elif len(predictions) > 1:
        names = " and ".join(p.display_name for p in predictions)
        scores = " and ".join(_pct(p.confidence) for p in predictions)
        together = "both" if len(predictions) == 2 else "all"
        opening = f"{names} {together} classify this slice as {CLASS_WORDS[predictions[0].label]} ({scores})."
    else:
        p = predictions[0]
        runner, runner_p = p.runner_up
        opening = (
            f"{p.display_name} classifies this slice as {CLASS_WORDS[p.label]} with "
            f"{_confidence_level(p.confidence)} confidence ({_pct(p.confidence)}); the runner-up "
            f"is {CLASS_WORDS[runner]} ({_pct(runner_p)})."
        )
    unsure = [p for p in predictions if p.outcome == "uncertain"]
    if unsure:
        # The uncertainty comes first: a reader who stops after one sentence must get it.
        who = " and ".join(p.display_name for p in unsure)
        leaning = "; ".join(
            f"{p.display_name} leans to {CLASS_WORDS[p.label]} ({_pct(p.confidence)}) over "
            f"{CLASS_WORDS[p.runner_up[0]]} ({_pct(p.runner_up[1])})"
            for p in unsure
        )
        opening = (
            f"Uncertain — needs a radiologist's read: {who} is too unsure to call this slice, so no "
            f"class is given as a result. For reference only, {leaning}."
        )
        if len(labels) > 1:
            opening += " The models also disagree."
    fits = [
        f"{_prefix(p, predictions)}the Grad-CAM hot area {_location_fit(p.label, p.regions)[0]} "
        f"a {CLASS_WORDS[p.label]}."
        for p in predictions
        if p.label != "notumor" and p.regions.hot_fraction > 0
    ]
    closing = "Generated without a language model; not a diagnosis — a radiologist must confirm."
    return " ".join([opening, *(_capitalise(f) for f in fits), closing])


def _probability_finding(p: PredictionFacts) -> str:
    runner, runner_p = p.runner_up
    listing = ", ".join(f"{CLASS_WORDS[name]} {_pct(value)}" for name, value in p.ranked)
    finding = (
        f"{p.display_name} gives {CLASS_WORDS[p.label]} {_pct(p.confidence)} "
        f"({_confidence_level(p.confidence)} confidence); all classes: {listing}."
    )
    if p.confidence - runner_p < SMALL_MARGIN:
        finding += (
            f" The margin over {CLASS_WORDS[runner]} is small, so {CLASS_WORDS[runner]} should be considered as well."
        )
    return finding


def _describe_area(r: RegionStats) -> str:
    if r.hot_fraction == 0:
        return "no part of the heat map reaches half its maximum, so there is no distinct hot area"
    side = {"left": "image left of the midline", "right": "image right of the midline", "midline": "on the midline"}[
        r.side
    ]
    depth = {"peripheral": "toward the skull", "deep": "deep"}[r.depth]
    where = (
        "near the centre of the head"
        if r.quadrant == "central"
        else f"in the {r.vertical} third of the head as pictured"
    )
    text = (
        f"the hot area lies {where}, {side}, {depth}; it is centred {_pct(r.centroid.x)} "
        f"across and {_pct(r.centroid.y)} down the image, with its peak at {_pct(r.peak.x)} across and "
        f"{_pct(r.peak.y)} down; it covers about {_pct(r.hot_fraction)} of the image "
        f"({_size_word(r.hot_fraction)}) within a box from {_pct(r.bbox.x0)} to {_pct(r.bbox.x1)} "
        f"across and {_pct(r.bbox.y0)} to {_pct(r.bbox.y1)} down"
    )
    if r.hot_fraction >= DIFFUSE_FRACTION:
        text += "; the map is diffuse, so its location is a weak clue"
    return text


def _location_fit(label: str, r: RegionStats) -> tuple[str, str]:
    """(verdict, sentence) on whether the hot area lies where this class typically arises."""
    if label == "notumor":
        return "", (
            "For a 'no tumour' result the hot area is not a lesion; it shows what the model looked "
            "at to reach that verdict."
        )
    if r.hot_fraction == 0:
        return "", (
            f"With no distinct hot area, the heat map gives no location to compare with where a "
            f"{CLASS_WORDS[label]} typically arises."
        )
    if label == "glioma":
        if r.side != "midline":
            return FITS, (
                "The hot area is off the midline, within a hemisphere, where gliomas usually "
                "arise: the location fits the predicted class."
            )
        if r.vertical == "lower":
            return POORLY, (
                "The hot area is low on the midline, where the sella and skull base lie; that is "
                "more typical of a pituitary lesion, so the location fits a glioma poorly."
            )
        return PARTLY, (
            "The hot area is on the midline; gliomas can arise deep or cross the midline (for "
            "example through the corpus callosum), but most lie off it, so the location fits "
            "only partly."
        )
    if label == "meningioma":
        if r.depth == "peripheral":
            return FITS, (
                "The hot area lies toward the skull, near the convexity where the dura lines it: "
                "the location fits an extra-axial meningioma."
            )
        if r.side == "midline":
            return PARTLY, (
                "The hot area is on the midline, where the falx and the skull base carry dura and "
                "meningiomas do arise, so the location is compatible but not specific."
            )
        # Not "poorly": one slice of unknown plane cannot rule out dura there; a low axial slice
        # cuts the skull base (sphenoid wing, middle fossa) and the tentorium deep in the image.
        return PARTLY, (
            "The hot area lies deep, off the midline. Within a hemisphere that would be unusual "
            "for an extra-axial meningioma, but a slice through the skull base or the tentorium "
            "(for example the sphenoid wing) shows dura there too, so the location fits only "
            "partly; check whether the mass has a dural base."
        )
    # The middle third of the head's width, not the narrow midline: on a sagittal slice the
    # sella lies toward the face, a third of the way across the head.
    central = abs(r.head_centroid.x - 0.5) <= 1 / 6
    if central and r.vertical != "upper":
        return FITS, (
            "The hot area is in the central part of the head, not high, where the sella turcica "
            "lies on axial, coronal and sagittal views: the location fits a pituitary tumour."
        )
    where = "high in the head, above" if central else "far from the centre of the head, away from"
    return POORLY, (
        f"The hot area is {where} the skull base where the sella turcica lies, so the location "
        "fits a pituitary tumour poorly."
    )


def _prefix(p: PredictionFacts, predictions: tuple[PredictionFacts, ...]) -> str:
    return f"for {p.display_name}, " if len(predictions) > 1 else ""


def _prefixed(p: PredictionFacts, predictions: tuple[PredictionFacts, ...], sentence: str) -> str:
    return f"{p.display_name}: {sentence}" if len(predictions) > 1 else sentence


def _capitalise(text: str) -> str:
    return text[:1].upper() + text[1:]


def _confidence_level(p: float) -> str:
    return "high" if p >= 0.9 else "moderate" if p >= 0.6 else "low"


def _size_word(fraction: float) -> str:
    if fraction < 0.05:
        return "small and focal"
    if fraction < 0.2:
        return "moderate in size"
    return "large"


def _pct(value: float) -> str:
    if 0 < value < 0.005:
        return "<1%"
    if 0.995 <= value < 1:
        return ">99%"
    return f"{value:.0%}"
