"""The offline explainer: same facts in, same sections out, labelled as written without an LLM."""

import pytest

from scans.explain import ExplainConfig, explain
from scans.explain.content import validate_content
from scans.explain.offline import FITS, OFFLINE_NOTICE, PARTLY, POORLY, explain_offline

from .factories import PROBABILITIES, REGIONS, prediction, region_stats, scan_facts

# Where each class arises, in the words the text must use.
SITES = {
    "glioma": ["brain parenchyma", "white matter", "oedema"],
    "meningioma": ["meninges", "dura", "well circumscribed"],
    "pituitary": ["sella turcica", "midline skull base"],
    "notumor": ["'no tumour' result", "whole series"],
}
SIDE_WORDS = {"left": "image left of the midline", "right": "image right of the midline", "midline": "on the midline"}


def offline_text(*predictions):
    return explain(scan_facts(*predictions), ExplainConfig()).text


@pytest.mark.parametrize("quadrant", list(REGIONS))
@pytest.mark.parametrize("label", list(PROBABILITIES))
def test_it_explains_each_class_in_each_region(label, quadrant):
    content = explain_offline(scan_facts(prediction(label, stats=region_stats(quadrant))))
    text = " ".join(
        [
            content["summary"],
            *content["regions"],
            *content["supporting_findings"],
            *content["caveats"],
        ]
    )

    assert validate_content(content) == content
    place = REGIONS[quadrant]
    where = "near the centre of the head" if quadrant == "central" else f"in the {place['vertical']} third of the head as pictured"
    assert where in content["regions"][0]
    assert SIDE_WORDS[REGIONS[quadrant]["side"]] in content["regions"][0]
    for phrase in SITES[label]:
        assert phrase in text
    assert "Generated without a language model" in content["summary"]
    assert content["caveats"][0] == OFFLINE_NOTICE


def test_it_names_the_class_the_confidence_and_the_runner_up():
    summary = explain_offline(scan_facts(prediction("glioma")))["summary"]

    assert summary.startswith(
        "Custom CNN classifies this slice as glioma with moderate confidence (87%); "
        "the runner-up is meningioma (9%)."
    )


def test_it_describes_where_the_hot_area_lies_and_how_large_it_is():
    stats = region_stats("lower-left", centroid=(0.41, 0.63), hot_fraction=0.12)

    (region,) = explain_offline(scan_facts(prediction(stats=stats)))["regions"]

    assert region.startswith(
        "Custom CNN (Grad-CAM): the hot area lies in the lower third of the head as pictured, image left of the midline, "
        "toward the skull;"
    )
    assert "centred 41% across and 63% down the image" in region
    assert "covers about 12% of the image (moderate in size)" in region


@pytest.mark.parametrize(
    "label, stats, verdict",
    [
        ("glioma", region_stats("upper-right"), FITS),
        ("glioma", region_stats("central"), PARTLY),
        ("glioma", region_stats("central", centroid=(0.5, 0.75), vertical="lower"), POORLY),
        ("meningioma", region_stats("upper-left", centroid=(0.12, 0.2)), FITS),
        ("meningioma", region_stats("central"), PARTLY),
        ("meningioma", region_stats("upper-left", centroid=(0.38, 0.42), depth="deep"), PARTLY),
        ("pituitary", region_stats("central"), FITS),
        ("pituitary", region_stats("central", centroid=(0.5, 0.7), vertical="lower"), FITS),
        ("pituitary", region_stats("central", centroid=(0.5, 0.2), vertical="upper"), POORLY),
        ("pituitary", region_stats("lower-right"), POORLY),
        # A sagittal slice: the sella lies toward the face, left of the narrow midline band.
        ("pituitary", region_stats("lower-left", centroid=(0.37, 0.55), vertical="middle"), FITS),
    ],
)
def test_it_says_whether_the_hot_area_lies_where_the_class_arises(label, stats, verdict):
    summary = explain_offline(scan_facts(prediction(label, stats=stats)))["summary"]

    assert f"The Grad-CAM hot area {verdict} a " in summary


def test_a_deep_meningioma_hot_area_is_not_ruled_out_by_one_slice():
    stats = region_stats("upper-left", centroid=(0.38, 0.42), depth="deep")

    findings = explain_offline(scan_facts(prediction("meningioma", stats=stats)))["supporting_findings"]

    assert any("sphenoid wing" in f and "check whether the mass has a dural base" in f for f in findings)


def test_a_no_tumour_result_treats_the_hot_area_as_no_lesion():
    content = explain_offline(scan_facts(prediction("notumor")))

    assert "usual site" not in content["summary"]
    assert any(
        "the hot area is not a lesion" in finding for finding in content["supporting_findings"]
    )


def test_it_tells_what_a_radiologist_should_check_for_the_class():
    caveats = explain_offline(scan_facts(prediction("meningioma")))["caveats"]

    assert any(
        c.startswith("For meningioma, check for a broad dural base, a dural tail") for c in caveats
    )


def test_it_flags_a_small_margin_over_the_runner_up():
    close = {"glioma": 0.48, "meningioma": 0.40, "notumor": 0.07, "pituitary": 0.05}

    findings = explain_offline(scan_facts(prediction(probabilities=close)))["supporting_findings"]

    assert "The margin over meningioma is small" in findings[0]


def test_it_warns_that_a_diffuse_map_locates_little():
    (region,) = explain_offline(scan_facts(prediction(stats=region_stats(hot_fraction=0.5))))[
        "regions"
    ]

    assert "(large)" in region
    assert "the map is diffuse, so its location is a weak clue" in region


def test_it_says_so_when_no_area_is_hot():
    content = explain_offline(scan_facts(prediction(stats=region_stats(hot_fraction=0.0))))

    assert "there is no distinct hot area" in content["regions"][0]
    assert "usual site" not in content["summary"]


def test_it_says_first_when_the_models_disagree():
    summary = explain_offline(
        scan_facts(
            prediction("glioma"),
            prediction("meningioma", model="xception", display_name="Xception", overlay_seed=3),
        )
    )["summary"]

    assert summary.startswith(
        "The models disagree: Custom CNN says glioma (87%), Xception says meningioma (91%); "
        "treat the result as uncertain."
    )


def test_it_covers_every_model_when_they_agree():
    content = explain_offline(
        scan_facts(
            prediction("pituitary"),
            prediction("pituitary", model="xception", display_name="Xception"),
        )
    )

    assert content["summary"].startswith(
        "Custom CNN and Xception both classify this slice as pituitary tumour"
    )
    assert [r.split(" (")[0] for r in content["regions"]] == ["Custom CNN", "Xception"]
    assert sum("Pituitary tumours arise" in f for f in content["supporting_findings"]) == 1


def test_it_is_deterministic():
    facts = scan_facts(prediction("glioma", stats=region_stats("upper-right")))

    assert explain_offline(facts) == explain_offline(facts)
    assert offline_text(*facts.predictions) == offline_text(*facts.predictions)


def test_the_text_has_one_section_per_field():
    text = offline_text(prediction())

    assert text.startswith("Summary\n")
    for title in ("\n\nHighlighted regions\n- ", "\n\nSupporting findings\n- ", "\n\nCaveats\n- "):
        assert title in text
