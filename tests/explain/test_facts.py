"""Facts accept the engine's numbers and nothing shaped otherwise."""

import pytest

from scans.explain import PredictionFacts, RegionStats

from .factories import PROBABILITIES, make_png, prediction, region_stats


def test_region_stats_read_the_engines_dict():
    stats = RegionStats.from_stats(region_stats("lower-left", centroid=(0.41, 0.63)))

    assert (stats.centroid.x, stats.centroid.y, stats.quadrant, stats.side) == (
        0.41,
        0.63,
        "lower-left",
        "left",
    )
    assert stats.as_dict()["bbox"] == {"x0": 0.31, "y0": 0.53, "x1": 0.51, "y1": 0.73}


@pytest.mark.parametrize(
    "change",
    [
        {"quadrant": "somewhere"},
        {"side": "patient-left"},
        {"depth": "subdural"},
        {"hot_fraction": 1.5},
        {"hot_fraction": float("nan")},
        {"hot_fraction": "0.1"},
        {"centroid": {"x": 0.5}},
    ],
)
def test_region_stats_refuse_values_outside_the_contract(change):
    with pytest.raises(ValueError):
        RegionStats.from_stats({**region_stats(), **change})


@pytest.mark.parametrize("centroid, depth", [((0.12, 0.2), "peripheral"), ((0.4, 0.42), "deep")])
def test_stats_stored_before_depth_existed_get_it_from_the_image_centre(centroid, depth):
    stats = region_stats("upper-left", centroid=centroid)
    del stats["depth"]

    assert RegionStats.from_stats(stats).depth == depth


def test_region_stats_refuse_a_dict_with_a_missing_key():
    stats = region_stats()
    del stats["vertical"]

    with pytest.raises(ValueError, match="incomplete"):
        RegionStats.from_stats(stats)


def test_a_prediction_knows_its_confidence_and_runner_up():
    p = prediction("glioma")

    assert p.confidence == 0.87
    assert p.runner_up == ("meningioma", 0.09)
    assert list(p.probabilities) == ["glioma", "meningioma", "notumor", "pituitary"]


@pytest.mark.parametrize(
    "change, message",
    [
        ({"label": "astrocytoma"}, "label"),
        ({"probabilities": {"glioma": 1.0}}, "exactly the classes"),
        ({"probabilities": {**PROBABILITIES["glioma"], "glioma": -0.1}}, r"\[0, 1\]"),
        ({"display_name": "Custom CNN\nPatient: Jane"}, "display_name"),
        ({"overlay_png": b"GIF89a"}, "PNG"),
    ],
)
def test_a_prediction_refuses_malformed_facts(change, message):
    fields = dict(
        model="custom_cnn",
        display_name="Custom CNN",
        label="glioma",
        probabilities=PROBABILITIES["glioma"],
        regions=RegionStats.from_stats(region_stats()),
        overlay_png=make_png(2),
    )

    with pytest.raises(ValueError, match=message):
        PredictionFacts(**{**fields, **change})
