"""The HTTP side shared by the pages and the API: a stored PDF as a file response."""

from django.core.files.storage import default_storage
from django.http import FileResponse

from scans.reports.services import Report


def pdf_response(report: Report) -> FileResponse:
    # inline: the browser shows it (the "preparing" page turns into the report), and a
    # download button still saves it under the name given.
    return FileResponse(
        default_storage.open(report.name, "rb"),
        content_type="application/pdf",
        filename=report.filename,
        as_attachment=False,
    )
