"""The Markdown card says what training did, for an ensemble as for a single network."""

import json

from scans.ml.cards import render_markdown
from tests.conftest import REPO_ROOT


def _card(path: str) -> dict:
    return json.loads((REPO_ROOT / path).read_text())


def test_an_ensemble_card_says_its_members_trained_on_the_head_ct_as_outliers():
    # The ensemble's own recipe holds no training options: the card once said "left out".
    card = _card("weights/custom_cnn.card.json")
    assert card["members"] and "outlier_exposure" not in card["recipe"]
    text = render_markdown(card)
    assert "45 head CT slices filed under the classes were trained on 4× with a uniform target" in text
    assert "left out of training" not in text


def test_a_single_network_card_says_when_its_outliers_were_turned():
    text = render_markdown(_card("docs/model-runs/custom_cnn-turned-outliers-2026-12-02.card.json"))
    assert (
        "trained on 4× with a uniform target (outlier exposure), each time turned by a random multiple of 90°" in text
    )
