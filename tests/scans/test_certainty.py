"""How a probability is written on every page: whole percents, never "100 %" or "0 %"."""

import pytest

from scans.templatetags.portal import certainty, result_display


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (1.0, "> 99 %"),
        (0.9996, "> 99 %"),
        (0.991, "> 99 %"),
        (0.99, "99 %"),
        (0.934, "93 %"),
        (0.5, "50 %"),
        (0.0149, "1 %"),
        (0.01, "1 %"),
        (0.004, "< 1 %"),
        (0.0, "< 1 %"),
        (None, "—"),
    ],
)
def test_certainty_is_honest_at_the_ends(value, shown):
    assert certainty(value) == shown


def test_every_final_result_has_a_name_people_read():
    from scans.final_result import RESULT_KEYS

    assert all(result_display(key) != key for key in RESULT_KEYS)
