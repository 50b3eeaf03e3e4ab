"""Fetching a report as a client does: the first request queues it (202), the worker renders
it (here the task runs in the test's process), the next request gets the PDF."""

import io

from pypdf import PdfReader

from scans.reports.tasks import render_report


def pdf_text(data: bytes) -> str:
    """The text of every page, with line breaks and runs of spaces made single spaces (a
    table cell wraps wherever its width says)."""
    return " ".join(" ".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages).split())


def fetch_report(client, url: str, *, kind: str, object_id: int, monkeypatch) -> bytes:
    queued = []
    monkeypatch.setattr(render_report, "delay", lambda *args: queued.append(args))
    first = client.get(url)
    assert first.status_code == 202, first.content
    assert first["Retry-After"]
    assert queued == [(kind, object_id)]
    render_report(kind, object_id)
    second = client.get(url)
    assert second.status_code == 200, second.content
    assert second["Content-Type"] == "application/pdf"
    return b"".join(second.streaming_content)
