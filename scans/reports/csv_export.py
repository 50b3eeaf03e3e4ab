"""CSV exports: one row per prediction, streamed, safe to open in a spreadsheet.

Safe means: a cell that starts with = + - @ (or a tab or carriage return) is prefixed with
an apostrophe so a spreadsheet shows it as text instead of running it as a formula (OWASP
"CSV injection"); the file starts with a UTF-8 byte-order mark so Excel reads accents right.
"""

import csv
import hashlib
import hmac
import secrets
from collections.abc import Iterable, Iterator

from django.db.models import QuerySet

from scans.final_result import final_result_of
from scans.ml.classes import CLASS_NAMES
from scans.models import Outcome, Prediction, Scan

BOM = "\ufeff"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# Rows fetched per query while streaming: thousands of scans never sit in memory at once.
CHUNK_SIZE = 500

IDENTIFIED_COLUMNS = ("scan_id", "exam_id", "patient_id", "mrn", "patient_name")
DEIDENTIFIED_COLUMNS = ("scan_id", "exam_id", "patient_pseudonym")
COMMON_COLUMNS = (
    "uploaded_at",
    "acquisition_date",
    "status",
    "model",
    "model_version",
    "outcome",
    "outcome_reason",
    "label",
    "confidence",
    *(f"p_{name}" for name in CLASS_NAMES),
    "final_result",
    "final_result_source",
    "changed_by_review",
    "reviewer",
    "reviewed_at",
)


def columns(*, deidentified: bool) -> tuple[str, ...]:
    return (DEIDENTIFIED_COLUMNS if deidentified else IDENTIFIED_COLUMNS) + COMMON_COLUMNS


def cell_escape(value) -> object:
    """A text cell a spreadsheet would read as a formula becomes plain text; numbers stay numbers."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


class Pseudonyms:
    """A stable pseudonym per patient within one export, unlinkable across exports: an HMAC
    of the patient's id under a key that lives only as long as the export."""

    def __init__(self) -> None:
        self._key = secrets.token_bytes(32)

    def of(self, patient_id: int) -> str:
        digest = hmac.new(self._key, str(patient_id).encode(), hashlib.sha256).hexdigest()
        return f"P-{digest[:12]}"


def scan_rows(scans: QuerySet[Scan], *, deidentified: bool) -> Iterator[list]:
    """One row per prediction of every scan (a scan without one, queued or failed, still gets
    a row), in the queryset's order. `scans` comes from the list selectors
    (scans_with_list_data): final result annotated, patient joined, predictions prefetched."""
    pseudonyms = Pseudonyms()
    for scan in scans.iterator(chunk_size=CHUNK_SIZE):
        if deidentified:
            who = [scan.pk, scan.exam_id or "", pseudonyms.of(scan.patient_id)]
        else:
            who = [
                scan.pk,
                scan.exam_id or "",
                scan.patient_id,
                scan.patient.medical_record_number,
                scan.patient.display_name,
            ]
        result = final_result_of(scan)
        final = [
            result.key if result else "",
            result.source if result else "",
            "yes" if result and result.changed else "no",
            (result.reviewed_by or "") if result else "",
            _when(result.reviewed_at) if result else "",
        ]
        predictions = sorted(scan.predictions.all(), key=lambda p: p.model_name) or [None]
        for prediction in predictions:
            yield [*who, _when(scan.created_at), _day(scan.acquisition_date), scan.status, *_model(prediction), *final]


def _model(prediction: Prediction | None) -> list:
    if prediction is None:
        return [""] * (7 + len(CLASS_NAMES))
    called = prediction.outcome == Outcome.CLASSIFIED
    # Only a called class is a label; an abstention or a refusal leaves it blank (the
    # probabilities stay, for research, under the outcome that says what they are).
    return [
        prediction.model_name,
        prediction.model_version,
        prediction.outcome,
        prediction.outcome_reason,
        prediction.label if called else "",
        round(prediction.confidence, 6) if called else "",
        *(round(prediction.probabilities.get(name, 0.0), 6) for name in CLASS_NAMES),
    ]


def _when(value) -> str:
    return value.isoformat(timespec="seconds") if value else ""


def _day(value) -> str:
    return value.isoformat() if value else ""


class _Echo:
    """A file-like object whose write returns the line, for csv.writer in a generator."""

    def write(self, value: str) -> str:
        return value


def csv_lines(rows: Iterable[list], *, header: tuple[str, ...]) -> Iterator[str]:
    """The CSV text, line by line: the BOM and header first, every cell escaped."""
    writer = csv.writer(_Echo())
    yield BOM + writer.writerow(header)
    for row in rows:
        yield writer.writerow([cell_escape(value) for value in row])
