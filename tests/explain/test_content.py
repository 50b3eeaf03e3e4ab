"""Whatever wrote it, an explanation has one shape: summary, regions, findings, caveats."""

import pytest

from scans.explain.content import InvalidContent, render_text, validate_content

VALID = {
    "summary": " Glioma likely. ",
    "regions": ["Left."],
    "supporting_findings": [],
    "caveats": ["Confirm."],
}


def test_it_keeps_the_four_fields_trimmed_and_drops_the_rest():
    assert validate_content({**VALID, "diagnosis": "certain"}) == {
        "summary": "Glioma likely.",
        "regions": ["Left."],
        "supporting_findings": [],
        "caveats": ["Confirm."],
    }


@pytest.mark.parametrize(
    "data",
    [
        ["not", "an", "object"],
        {**VALID, "summary": "   "},
        {**VALID, "summary": "x" * 2001},
        {**VALID, "regions": "Left."},
        {**VALID, "caveats": [""]},
        {**VALID, "caveats": [{"text": "nested"}]},
        {**VALID, "caveats": ["ok"] * 13},
        {key: value for key, value in VALID.items() if key != "caveats"},
    ],
)
def test_it_refuses_anything_else(data):
    with pytest.raises(InvalidContent):
        validate_content(data)


def test_it_renders_titled_sections_and_skips_empty_ones():
    assert render_text(validate_content(VALID)) == (
        "Summary\nGlioma likely.\n\nHighlighted regions\n- Left.\n\nCaveats\n- Confirm."
    )
