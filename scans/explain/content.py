"""The structured shape every explanation has, whoever wrote it, and its plain-text rendering."""

from typing import Any

SECTIONS = (
    ("regions", "Highlighted regions"),
    ("supporting_findings", "Supporting findings"),
    ("caveats", "Caveats"),
)

# Generous bounds: a reply beyond them is not the short clinical note we asked for.
MAX_SUMMARY_CHARS = 2000
MAX_ITEM_CHARS = 1000
MAX_ITEMS = 12


class InvalidContent(ValueError):
    """The explanation does not have the agreed shape."""


def validate_content(data: Any) -> dict[str, Any]:
    """Return {summary, regions, supporting_findings, caveats} cleaned, or raise InvalidContent.

    Unknown keys are dropped so that whatever is stored and shown is exactly this shape.
    """
    if not isinstance(data, dict):
        raise InvalidContent("explanation is not a JSON object")
    summary = data.get("summary")
    if not isinstance(summary, str) or not summary.strip():
        raise InvalidContent("explanation has no summary")
    if len(summary) > MAX_SUMMARY_CHARS:
        raise InvalidContent("explanation summary is too long")
    content: dict[str, Any] = {"summary": summary.strip()}
    for key, _title in SECTIONS:
        items = data.get(key)
        if not isinstance(items, list) or len(items) > MAX_ITEMS:
            raise InvalidContent(
                f"explanation field {key} is not a list of at most {MAX_ITEMS} items"
            )
        if not all(isinstance(item, str) and item.strip() for item in items):
            raise InvalidContent(f"explanation field {key} holds something other than text")
        if any(len(item) > MAX_ITEM_CHARS for item in items):
            raise InvalidContent(f"explanation field {key} has an item that is too long")
        content[key] = [item.strip() for item in items]
    return content


def render_text(content: dict[str, Any]) -> str:
    """Plain text with one titled section per field, for the page, the API and the admin."""
    parts = ["Summary", content["summary"]]
    for key, title in SECTIONS:
        if content[key]:
            parts.append("")
            parts.append(title)
            parts.extend(f"- {item}" for item in content[key])
    return "\n".join(parts)
