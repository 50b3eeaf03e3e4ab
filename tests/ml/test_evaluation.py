"""The accuracy interval that resamples whole patients and copy groups."""

import numpy as np
import pytest

from scans.ml.cards import interval_text
from scans.ml.evaluation import grouped_accuracy_interval


def test_slices_of_one_group_that_fail_together_widen_the_interval():
    # 40 groups of 10 slices, 4 groups entirely wrong: 90 % right either way, but the
    # grouped interval must be as wide as 40 draws allow, not as narrow as 400 would.
    correct = np.repeat([False] * 4 + [True] * 36, 10)
    grouped = grouped_accuracy_interval(correct, np.repeat(np.arange(40), 10))
    one_per_slice = grouped_accuracy_interval(correct, np.arange(400))
    assert grouped["low"] < 0.9 < grouped["high"] and one_per_slice["low"] < 0.9 < one_per_slice["high"]
    assert grouped["high"] - grouped["low"] > 2.5 * (one_per_slice["high"] - one_per_slice["low"])
    assert grouped["groups"] == 40 and grouped["largest_group_error_share"] == pytest.approx(0.25)


def test_without_errors_the_interval_is_a_point_and_no_group_holds_errors():
    interval = grouped_accuracy_interval(np.ones(12, bool), np.arange(12) // 3)
    assert (interval["low"], interval["high"], interval["largest_group_error_share"]) == (1.0, 1.0, 0.0)


def test_it_is_reproducible_and_says_what_it_resampled():
    rng = np.random.default_rng(3)
    correct, groups = rng.random(300) < 0.9, np.arange(300) % 60
    interval = grouped_accuracy_interval(correct, groups)
    assert interval == grouped_accuracy_interval(correct, groups)
    text = interval_text(interval)
    assert text.startswith("95 % interval 0.") and "over 60 patients and copy groups" in text
