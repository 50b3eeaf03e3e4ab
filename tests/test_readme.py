"""The promise table (docs/security.md, linked from the README) names the tests that prove each
promise, and the other documents name tests too: every one must exist, so the documents cannot
drift from the suite."""

import re

from tests.conftest import REPO_ROOT

PROMISES = (REPO_ROOT / "docs" / "security.md").read_text()
DOCUMENTS = [REPO_ROOT / "README.md", REPO_ROOT / "CONTRIBUTING.md", *sorted((REPO_ROOT / "docs").glob("*.md"))]
PROMISES_HEADING = "## What we promise, and the test that proves it"
TEST_REFERENCE = re.compile(r"`(tests/[^`\s]+)`")


def _promise_rows() -> list[str]:
    section = PROMISES.split(PROMISES_HEADING, 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ") and not line.startswith("| ---")]
    return [row for row in rows if not row.startswith("| promise |")]  # header rows name no test


def _missing(reference: str) -> str | None:
    path, _, name = reference.partition("::")
    target = REPO_ROOT / path
    if not target.exists():
        return f"{path} does not exist"
    if name and not re.search(rf"^\s*(async )?def {re.escape(name)}\(", target.read_text(), re.MULTILINE):
        return f"{path} has no test named {name}"
    return None


def test_the_security_page_has_a_promise_table():
    assert len(_promise_rows()) >= 18


def test_every_promise_names_at_least_one_test_function():
    vague = [row.split("|")[1].strip() for row in _promise_rows() if "::" not in row]
    assert vague == []


def test_every_test_a_document_names_exists():
    assert len(TEST_REFERENCE.findall(PROMISES)) > 30
    references = {
        (document.relative_to(REPO_ROOT), reference)
        for document in DOCUMENTS
        if document.exists()
        for reference in TEST_REFERENCE.findall(document.read_text())
    }
    problems = [f"{document}: {problem}" for document, reference in references if (problem := _missing(reference))]
    assert problems == []
