"""The service that takes a DICOM upload (one file, or a zip of a series or study).

Every slice becomes a Scan with the same life as a PNG upload: its pixels-only DICOM waits
under incoming/ until the worker renders it (scans.intake), then it is classified. The slices
of one series gather in one Exam. Nothing is stored unless the upload as a whole is accepted.
"""

import logging
import posixpath
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Model

from accounts.models import User
from scans import tasks
from scans.dicom.archive import ArchiveRejected, dicom_members, is_zip
from scans.dicom.reading import DicomRejected, Slice, slices_of
from scans.models import Exam, Patient, Scan
from scans.storage import image_delete, upload_store

logger = logging.getLogger(__name__)

IDENTIFIERS_DIFFER = (
    "The file's Patient ID is not this patient's record number: check that you chose the right "
    "patient, or tick “the file's identifiers differ from this patient's, upload anyway”."
)
# Per-file reasons listed in one error; the rest are counted.
REASONS_SHOWN = 10


@dataclass
class Upload:
    """What one upload made: its scans (slices in series order) and the exams they belong to."""

    scans: list[Scan]
    exams: list[Exam] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    # What this upload added: a file sent again (a retry, a second drop of the same export)
    # answers with the slices it made the first time, and adds nothing.
    created: list[Exam | Scan] = field(default_factory=list)
    unused_files: list[str] = field(default_factory=list)

    @property
    def is_series(self) -> bool:
        return len(self.scans) > 1


@dataclass
class _Stored:
    slice: Slice
    name: str


def dicom_submit(
    *,
    patient: Patient,
    uploaded_by: User,
    data: bytes,
    models: tuple[str, ...],
    acquisition_date: date | None = None,
    identifiers_differ_ok: bool = False,
    on_created: Callable[[Model], None] | None = None,
    on_identifiers_override: Callable[[Exam], None] | None = None,
) -> Upload:
    """Validates a DICOM file or zip, stores its slices de-identified, queues them on commit.

    `on_created` runs for each exam and scan made, `on_identifiers_override` for each exam
    that took slices whose Patient ID differs from the patient's MRN because the user said
    so (the audit writes), both inside the upload's transaction."""
    stored: list[_Stored] = []
    skipped: list[str] = []
    try:
        for item in _slices(data, skipped):
            if len(stored) >= settings.DICOM_MAX_SLICES:
                raise ValidationError({"image": f"The upload has more than {settings.DICOM_MAX_SLICES} slices."})
            stored.append(_Stored(item, upload_store(data=item.payload)))
            item.payload = b""
        if not stored:
            raise ValidationError({"image": ["The upload holds no usable DICOM image.", *_shown(skipped)]})
        differ = _identifiers_differ(patient, [s.slice for s in stored])
        if differ and not identifiers_differ_ok:
            raise ValidationError({"identifiers_differ_ok": IDENTIFIERS_DIFFER})
        with transaction.atomic():
            upload = _create(patient, uploaded_by, stored, models, acquisition_date, differ)
            upload.skipped = skipped
            if on_created is not None:
                for obj in upload.created:
                    on_created(obj)
            if differ and on_identifiers_override is not None:
                for exam in upload.exams:
                    on_identifiers_override(exam)
            ids = [obj.pk for obj in upload.created if isinstance(obj, Scan)]
            transaction.on_commit(lambda: _enqueue(ids))
            transaction.on_commit(lambda: _delete(upload.unused_files))
    except Exception:
        for item in stored:
            image_delete(name=item.name)
        raise
    logger.info("exam(s) %s: %d DICOM slice(s) queued", [e.pk for e in upload.exams], len(ids))
    return upload


def _slices(data: bytes, skipped: list[str]) -> Iterator[Slice]:
    limits = {
        "max_pixels": settings.SCAN_MAX_PIXELS,
        "min_side": settings.SCAN_MIN_SIDE,
        "max_slices": settings.DICOM_MAX_SLICES,
    }
    if not is_zip(data):
        try:
            yield from slices_of(data, decode_check=True, **limits)
        except DicomRejected as error:
            raise ValidationError({"image": error.messages}) from None
        return
    try:
        members = dicom_members(
            data,
            max_files=settings.DICOM_ZIP_MAX_FILES,
            max_total_bytes=settings.DICOM_ZIP_MAX_BYTES,
            skipped=skipped,
        )
        for member in members:
            try:
                # Headers only: a zip of hundreds of slices must not hold the request for
                # their decoding; a slice whose pixels fail to decode fails in the worker.
                yield from slices_of(member.data, decode_check=False, **limits)
            except DicomRejected as error:
                skipped.append(f"{posixpath.basename(member.name)}: {error.messages[0]}")
    except ArchiveRejected as error:
        raise ValidationError({"image": error.messages}) from None


def _shown(skipped: list[str]) -> list[str]:
    shown = skipped[:REASONS_SHOWN]
    if len(skipped) > REASONS_SHOWN:
        shown.append(f"… and {len(skipped) - REASONS_SHOWN} more.")
    return shown


def _identifiers_differ(patient: Patient, slices: list[Slice]) -> bool:
    mrn = patient.medical_record_number.strip()
    return any(s.patient_id and s.patient_id != mrn for s in slices)


def _create(patient, uploaded_by, stored, models, acquisition_date, differ) -> Upload:
    groups: dict[str, list[_Stored]] = {}
    for item in stored:
        # A file without a Series Instance UID is a series of its own.
        key = item.slice.attributes.get("series_key") or f"file-{uuid.uuid4().hex}"
        groups.setdefault(key, []).append(item)
    upload = Upload(scans=[])
    for key, items in groups.items():
        exam, created = _exam(patient, uploaded_by, key, [i.slice for i in items], differ)
        upload.exams.append(exam)
        if created:
            upload.created.append(exam)
        known = {(scan.sha256, scan.dicom.get("frame", 0)): scan for scan in exam.scans.all()}
        for item in sorted(items, key=lambda i: series_order(i.slice.attributes)):
            earlier = known.get((item.slice.source_sha256, item.slice.attributes.get("frame", 0)))
            if earlier is not None:
                upload.scans.append(earlier)
                upload.unused_files.append(item.name)
                continue
            upload.scans.append(
                Scan.objects.create(
                    patient=patient,
                    uploaded_by=uploaded_by,
                    exam=exam,
                    image=item.name,
                    original_filename=item.slice.label,
                    sha256=item.slice.source_sha256,
                    width=item.slice.width,
                    height=item.slice.height,
                    acquisition_date=acquisition_date or item.slice.study_date,
                    requested_models=list(models),
                    dicom=item.slice.attributes,
                )
            )
            upload.created.append(upload.scans[-1])
    return upload


def _exam(patient, uploaded_by, key: str, slices: list[Slice], differ: bool) -> tuple[Exam, bool]:
    first = slices[0].attributes
    orientations = Counter(s.attributes.get("orientation", "") for s in slices)
    exam, created = Exam.objects.get_or_create(
        patient=patient,
        series_key=key,
        defaults={
            "uploaded_by": uploaded_by,
            "modality": first.get("modality", ""),
            "orientation": orientations.most_common(1)[0][0],
            "series_description": first.get("series_description", ""),
            "identifiers_differ": differ,
        },
    )
    if differ and not created and not exam.identifiers_differ:
        Exam.objects.filter(pk=exam.pk).update(identifiers_differ=True)
        exam.identifiers_differ = True
    return exam, created


def series_order(attributes: dict) -> tuple:
    """Along the slice normal when the files say where each slice lies, else by number."""
    position = attributes.get("slice_position_mm")
    return (position is None, position or 0.0, attributes.get("instance_number") or 0, attributes.get("frame", 0))


def _delete(names: list[str]) -> None:
    for name in names:
        image_delete(name=name)


def _enqueue(ids: list[int]) -> None:
    # Many slices at once go behind other users' single uploads (tasks.SERIES_PRIORITY).
    for scan_id in ids:
        tasks.enqueue_classification(scan_id, series=len(ids) > 1)
