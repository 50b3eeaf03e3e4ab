"""Every relative link in the README, CONTRIBUTING.md and docs/ leads somewhere: the file exists
and, when the link names a #section, the Markdown file has a heading with that anchor (GitHub's
rule: lower case, punctuation dropped, spaces become hyphens)."""

import re
from functools import cache
from pathlib import Path

from tests.conftest import REPO_ROOT

DOCUMENTS = [REPO_ROOT / "README.md", REPO_ROOT / "CONTRIBUTING.md", *sorted((REPO_ROOT / "docs").glob("*.md"))]
FENCED_BLOCK = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)
INLINE_CODE = re.compile(r"`[^`\n]*`")
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)
EXTERNAL = ("http://", "https://", "mailto:")


def _prose(text: str) -> str:
    """The text without code, where a `[x](y)` or a `# comment` is not Markdown."""
    return FENCED_BLOCK.sub("", text)


def _anchor(heading: str) -> str:
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link in a heading keeps its text
    return re.sub(r"[^\w\- ]", "", text.lower()).replace(" ", "-")


@cache
def _anchors(path: Path) -> set[str]:
    found, seen = set(), {}
    for heading in HEADING.findall(_prose(path.read_text())):
        anchor = _anchor(heading)
        count = seen.get(anchor, 0)
        found.add(anchor if count == 0 else f"{anchor}-{count}")
        seen[anchor] = count + 1
    return found


def _links(document: Path) -> list[str]:
    return LINK.findall(INLINE_CODE.sub("", _prose(document.read_text())))


def _problem(document: Path, link: str) -> str | None:
    target, _, anchor = link.partition("#")
    path = (document.parent / target).resolve() if target else document
    if not path.exists():
        return f"{target} does not exist"
    if anchor and path.suffix == ".md" and anchor not in _anchors(path):
        return f"{path.relative_to(REPO_ROOT)} has no heading #{anchor}"
    return None


def test_the_documents_exist_and_link_to_each_other():
    assert all(document.exists() for document in DOCUMENTS)
    assert sum(len(_links(document)) for document in DOCUMENTS) > 40


def test_the_anchor_of_a_heading_follows_githubs_rule():
    assert _anchor("Uploads: DICOM, retries, batches") == "uploads-dicom-retries-batches"
    assert _anchor("Validation (held-out, deduplicated)") == "validation-held-out-deduplicated"
    assert _anchor("One machine: `make run`") == "one-machine-make-run"


def test_every_relative_link_resolves_to_a_file_and_a_heading():
    problems = [
        f"{document.relative_to(REPO_ROOT)}: ({link}) {problem}"
        for document in DOCUMENTS
        for link in _links(document)
        if not link.startswith(EXTERNAL) and (problem := _problem(document, link))
    ]
    assert problems == []
