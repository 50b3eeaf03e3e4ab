"""The refusal and abstention gates on synthetic images and numbers: no model, no dataset."""

import math

import numpy as np
import pytest

from scans.ml import evaluation, ood, ood_fit
from scans.ml.classes import CLASS_NAMES
from tests.ml.images import encode, head

LIMITS = {"min_dark_fraction": 0.02, "max_aspect_ratio": 2.2, "max_colour_fraction": ood.COLOUR_LIMIT}


def fitted_stats(**overrides) -> ood.OodStats:
    """Statistics as fit_for_model writes them, on a made-up 2-D feature space."""
    means = np.array([[0.0, 0.0], [4.0, 0.0], [0.0, 4.0], [4.0, 4.0]])
    values = {
        "views": [("s3_relu2", "grid2")],
        "means": [means],
        "precisions": [np.eye(2)],
        "scales": np.array([1.0]),
        "score_limit": 2.0,
        "confidence_threshold": 0.8,
        **LIMITS,
    }
    return ood.OodStats(**(values | overrides))


def stats_of(data: bytes, gray: np.ndarray) -> ood.InputStats:
    return ood.input_stats(data, gray)


def colour_photo() -> tuple[bytes, np.ndarray]:
    rng = np.random.default_rng(1)
    rgb = np.zeros((120, 160, 3), dtype=np.uint8)
    rgb[..., 0] = 200
    rgb[..., 1] = np.linspace(40, 160, 160, dtype=np.uint8)[None, :]
    rgb[..., 2] = rng.integers(0, 90, (120, 160), dtype=np.uint8)
    data = encode(rgb, "JPEG", quality=90)
    return data, np.asarray(rgb.mean(axis=2), dtype=np.uint8)


def document() -> np.ndarray:
    """A white page with thin lines of dark print (about 1 % of its pixels)."""
    page = np.full((300, 220), 245, dtype=np.uint8)
    for row in range(30, 270, 18):
        page[row, 20:200:4] = 30
    return page


def test_a_grey_head_on_black_passes_every_input_check():
    gray = head(256, 256)
    assert fitted_stats().input_refusal(stats_of(encode(gray, "JPEG"), gray)) is None


def test_a_grey_image_saved_as_rgb_is_not_a_colour_image():
    gray = head(200, 200)
    assert ood.colour_fraction(encode(gray, "JPEG", mode="RGB", quality=40)) < 0.01


def test_a_colour_photograph_is_refused_as_a_colour_image():
    data, gray = colour_photo()
    reason = fitted_stats().input_refusal(stats_of(data, gray))
    assert reason.startswith("colour image (") and "an MRI slice is grey" in reason


def test_a_white_document_is_refused_for_its_missing_dark_background():
    page = document()
    reason = fitted_stats().input_refusal(stats_of(encode(page), page))
    assert reason.startswith("almost no dark background")


def test_a_panorama_is_refused_for_its_aspect_ratio():
    strip = head(700, 200)
    reason = fitted_stats().input_refusal(stats_of(encode(strip), strip))
    assert reason == "aspect ratio 3.5 : 1 (training slices are at most 2.2 : 1)"


def test_a_grey_backed_export_still_counts_its_background_as_dark():
    gray = head(256, 256).astype(np.int16) + 60
    dark, _ = ood.gray_stats(gray.clip(0, 255).astype(np.uint8))
    assert dark > 0.3


def test_the_score_is_the_distance_to_the_nearest_class_mean_over_the_training_median():
    stats = fitted_stats(scales=np.array([2.0]))
    scores = stats.score([np.array([[4.0, 3.0], [10.0, 4.0]])])
    assert scores == pytest.approx([0.5, 3.0])


def test_the_largest_view_score_wins():
    stats = fitted_stats(
        views=[("a", "mean"), ("b", "mean")],
        means=[np.zeros((4, 1)), np.zeros((4, 1))],
        precisions=[np.eye(1), np.eye(1)],
        scales=np.array([1.0, 1.0]),
    )
    assert stats.score([np.array([[1.0]]), np.array([[5.0]])]) == pytest.approx([5.0])


def probabilities(top: float) -> np.ndarray:
    rest = (1 - top) / 3
    return np.array([top, rest, rest, rest])


def test_a_typical_confident_slice_is_classified():
    decision = fitted_stats().decide(ood.InputStats(0.0, 0.4, 1.0), 1.1, probabilities(0.97))
    assert decision == ood.Decision(ood.CLASSIFIED, "", 1.1)


def test_a_strange_slice_is_refused_with_its_score_and_the_limit():
    decision = fitted_stats().decide(ood.InputStats(0.0, 0.4, 1.0), 41.2, probabilities(0.999))
    assert decision.outcome == ood.REFUSED
    assert decision.reason == (
        "Not recognised as a brain MRI slice: its features are unlike the training slices (score 41.2, limit 2.0)."
    )


def test_a_score_that_is_not_a_number_is_refused():
    assert fitted_stats().decide(ood.InputStats(0.0, 0.4, 1.0), math.nan, probabilities(0.99)).outcome == ood.REFUSED


def test_the_input_checks_speak_before_the_score():
    decision = fitted_stats().decide(ood.InputStats(0.6, 0.0, 1.0), 41.2, probabilities(0.99))
    assert decision.reason.startswith("Not recognised as a brain MRI slice: colour image")


def test_an_unsure_answer_is_uncertain_and_names_its_two_likeliest_classes():
    decision = fitted_stats().decide(ood.InputStats(0.0, 0.4, 1.0), 1.0, np.array([0.55, 0.40, 0.03, 0.02]))
    assert decision.outcome == ood.UNCERTAIN
    assert decision.reason == (
        "Uncertain — needs a radiologist's read: the model's confidence (55%) is below the 80% "
        "it needs to make a call (glioma 55%, meningioma 40%)."
    )


@pytest.mark.parametrize("value, shown", [(1.0, "100%"), (0.9996, "> 99%"), (0.5, "50%"), (0.004, "< 1%"), (0.0, "0%")])
def test_percentages_never_show_more_certainty_than_there_is(value, shown):
    assert ood.percent(value) == shown


def test_statistics_survive_a_round_trip_through_their_file(tmp_path):
    stats = fitted_stats()
    ood.save(stats, tmp_path / "m.ood.npz")
    loaded = ood.load(tmp_path / "m.ood.npz")
    assert loaded.summary() == stats.summary()
    assert loaded.score([np.array([[7.0, 7.0]])]) == pytest.approx(stats.score([np.array([[7.0, 7.0]])]), rel=1e-6)


def test_a_file_that_is_not_our_statistics_cannot_be_loaded(tmp_path):
    (tmp_path / "m.ood.npz").write_bytes(b"not an npz")
    with pytest.raises((ValueError, OSError)):
        ood.load(tmp_path / "m.ood.npz")


def test_the_confidence_threshold_is_the_lowest_that_meets_the_accuracy_target():
    confidence = np.array([0.99, 0.98, 0.95, 0.9, 0.8, 0.7, 0.6])
    correct = np.array([True, True, True, True, False, True, False])
    # Halfway to the next lower confidence: 0.9 is the last called at 100 %, 0.7 at 80 %.
    assert ood_fit.choose_confidence_threshold(confidence, correct, 1.0) == pytest.approx(0.85)
    assert ood_fit.choose_confidence_threshold(confidence, correct, 0.8) == pytest.approx(0.65)


def test_a_threshold_met_by_every_image_calls_them_all():
    confidence = np.array([0.9, 0.8])
    assert ood_fit.choose_confidence_threshold(confidence, np.array([True, True]), 0.99) < 0.8


def test_no_threshold_meets_an_impossible_target():
    assert ood_fit.choose_confidence_threshold(np.array([0.9, 0.8]), np.array([False, False]), 0.99) == 1.0


def test_the_score_limit_refuses_at_most_the_budget_counting_the_input_checks():
    scores = np.arange(1.0, 201.0)  # 200 validation slices
    none = np.zeros(200, dtype=bool)
    limit = ood_fit._limit_for_budget(scores, none, 0.01)
    assert (scores > limit).sum() == 2
    one_already = none.copy()
    one_already[0] = True
    limit = ood_fit._limit_for_budget(scores, one_already, 0.01)
    assert (scores[~one_already] > limit).sum() == 1


def test_the_risk_coverage_curve_rises_as_coverage_falls():
    rng = np.random.default_rng(0)
    confidence = rng.uniform(0.3, 1.0, 1000)
    correct = rng.uniform(0, 1, 1000) < confidence
    curve = evaluation.risk_coverage(confidence, correct)
    assert curve[0]["coverage"] == 1.0 and curve[-1]["coverage"] == pytest.approx(0.8)
    assert curve[-1]["accuracy"] > curve[0]["accuracy"]


def test_auroc_is_one_for_separated_scores_and_a_half_for_identical_ones():
    assert evaluation.auroc(np.array([1.0, 2.0]), np.array([3.0, 4.0])) == 1.0
    assert evaluation.auroc(np.array([1.0, 1.0]), np.array([1.0, 1.0])) == 0.5


def test_called_report_counts_each_outcome():
    probs = np.eye(4)[[0, 1, 2, 3]] * 0.9 + 0.025
    report = evaluation.called_report(
        probs, np.array([0, 1, 2, 0]), ["classified", "classified", "uncertain", "refused"]
    )
    assert (report["called"], report["uncertain"], report["refused"]) == (2, 1, 1)
    assert report["coverage"] == 0.5 and report["accuracy_called"] == 1.0


def test_class_gaussians_give_a_nearby_point_a_small_distance():
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(len(CLASS_NAMES)), 50)
    features = rng.normal(0, 1, (200, 3)) + labels[:, None] * 5.0
    means, precision = ood_fit._class_gaussian(features, labels)
    stats = fitted_stats(views=[("x", "mean")], means=[means], precisions=[precision])
    near, far = stats.score([np.array([[5.0, 5.0, 5.0], [40.0, -40.0, 0.0]])])
    assert near < 3 and far > 10


def test_cross_fitted_figures_choose_on_one_half_and_measure_on_the_other():
    rng = np.random.default_rng(1)
    scores = rng.gamma(4, 0.25, 800)
    confidence = rng.uniform(0.4, 1.0, 800)
    correct = rng.uniform(0, 1, 800) < confidence + 0.05
    honest = ood_fit.cross_fitted(
        scores, np.zeros(800, dtype=bool), confidence, correct, max_false_refusal=0.01, target_accuracy=0.95
    )
    assert honest["splits"] == ood_fit.HALF_SPLITS
    # Chosen on other images, the held-out half sees about the budget, sometimes more.
    assert 0.0 < honest["false_refusal_rate"] < 0.03 and honest["false_refusal_rate_worst"] >= 0.01
    assert 0.0 < honest["coverage"] < 1.0 and honest["accuracy_called_worst"] <= honest["accuracy_called"]


def fundus_photo() -> np.ndarray:
    """An orange-red disc on black with a pale optic disc: dark background, but in colour."""
    y, x = np.ogrid[:200, :200]
    disc = (x - 100) ** 2 + (y - 100) ** 2 <= 85**2
    rgb = np.zeros((200, 200, 3), dtype=np.uint8)
    rgb[disc] = (200, 90, 30)
    rgb[(x - 140) ** 2 + (y - 100) ** 2 <= 12**2] = (250, 220, 160)
    return rgb


def stained_tissue() -> np.ndarray:
    """Pink and purple blobs on a near-white slide, like an H&E section."""
    rng = np.random.default_rng(3)
    rgb = np.full((180, 240, 3), 235, dtype=np.uint8)
    for _ in range(60):
        cy, cx = rng.integers(0, 180), rng.integers(0, 240)
        rgb[max(0, cy - 6) : cy + 6, max(0, cx - 6) : cx + 6] = (
            (150, 60, 160) if rng.uniform() < 0.5 else (230, 150, 190)
        )
    return rgb


def line_chart() -> np.ndarray:
    """Black axes and a grey curve on white."""
    chart = np.full((240, 320), 255, dtype=np.uint8)
    chart[200, 30:300] = 0
    chart[20:200, 30] = 0
    xs = np.arange(30, 300)
    chart[(120 + 60 * np.sin(xs / 30)).astype(int), xs] = 90
    return chart


def test_a_fundus_photograph_is_refused_as_a_colour_image_despite_its_dark_background():
    rgb = fundus_photo()
    data = encode(rgb, "JPEG", quality=90)
    reason = fitted_stats().input_refusal(stats_of(data, np.asarray(rgb.mean(axis=2), dtype=np.uint8)))
    assert reason.startswith("colour image")


def test_a_stained_tissue_section_is_refused_as_a_colour_image():
    rgb = stained_tissue()
    reason = fitted_stats().input_refusal(stats_of(encode(rgb), np.asarray(rgb.mean(axis=2), dtype=np.uint8)))
    assert reason.startswith("colour image")


def test_a_chart_on_white_is_refused_for_its_missing_dark_background():
    chart = line_chart()
    assert fitted_stats().input_refusal(stats_of(encode(chart), chart)).startswith("almost no dark background")


def test_abstention_never_leaves_fewer_than_the_minimum_coverage_called():
    from scans.ml.ood_fit import choose_confidence_threshold

    confidence = np.linspace(0.99, 0.40, 100)
    correct = np.ones(100, bool)
    correct[5::7] = False  # mistakes at every confidence: 99.6 % is reached only at the top 5
    strict = choose_confidence_threshold(confidence, correct, 0.996)
    assert (confidence >= strict).sum() == 5
    floored = choose_confidence_threshold(confidence, correct, 0.996, min_coverage=0.9)
    assert (confidence >= floored).sum() == 90
    # When the target is met with more coverage than the floor, the floor changes nothing.
    assert choose_confidence_threshold(confidence, np.ones(100, bool), 0.996, min_coverage=0.9) < 0.41


def test_equalised_copies_join_the_fit_with_their_labels_and_only_when_asked():
    grays = [np.full((48, 48), 40, dtype=np.uint8) for _ in range(40)]
    for i, gray in enumerate(grays):
        gray[4 : 6 + i, 4:40] = 100  # a dim "head" of its own height on a darker background
    labels = np.arange(40) % 4
    same, same_labels = ood_fit.with_equalised_copies(grays, labels, 0.0)
    assert len(same) == 40 and (same_labels == labels).all()
    more, more_labels = ood_fit.with_equalised_copies(grays, labels, 0.5)
    copies = len(more) - 40
    assert 10 <= copies <= 30 and len(more_labels) == len(more)
    # Each copy is its slice equalised (stretched to full range), labelled as that slice was.
    for copy, label in zip(more[40:], more_labels[40:]):
        assert copy.max() == 255
        source = int((copy == 255).any(axis=1).sum()) - 2
        assert labels[source] == label
