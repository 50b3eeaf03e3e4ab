"""Which path an upload takes: a PNG or JPEG slice, or a DICOM file or zip of DICOM.

The content decides, never the name: a DICOM announces itself with "DICM" after its
preamble, a zip with "PK". Images go to services.scan_submit; DICOM and zips here, to
scans.dicom.submit, which may make many slices (an exam) from one file.
"""

from collections.abc import Callable
from datetime import date

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db.models import Model

from accounts.models import User
from scans import services
from scans.dicom.archive import is_zip
from scans.dicom.submit import Upload, dicom_submit
from scans.ml.dicom_pixels import DICOM_MAGIC_OFFSET, is_dicom
from scans.models import Patient

HEADER_BYTES = DICOM_MAGIC_OFFSET + 4


def is_dicom_upload(file: UploadedFile) -> bool:
    """A DICOM file or a zip (of DICOM, we will see), judged by its first bytes."""
    head = file.read(HEADER_BYTES)
    file.seek(0)
    return is_dicom(head) or is_zip(head)


def dicom_upload_submit(
    *,
    patient: Patient,
    uploaded_by: User,
    file: UploadedFile,
    model: str | None = None,
    acquisition_date: date | None = None,
    identifiers_differ_ok: bool = False,
    on_created: Callable[[Model], None] | None = None,
    on_identifiers_override: Callable[[Model], None] | None = None,
) -> Upload:
    """Validates and stores a DICOM file or zip; its slices are queued on commit.

    `on_created` runs inside the upload's transaction for each exam and scan (the audit
    write): if it fails, no row, file or task is left behind."""
    models = services.models_resolve(choice=model)
    limit = settings.DICOM_MAX_UPLOAD_BYTES
    if (file.size is not None and file.size > limit) or len(data := file.read(limit + 1)) > limit:
        raise ValidationError({"image": f"The file is too large: the limit is {limit // (1024 * 1024)} MB."})
    return dicom_submit(
        patient=patient,
        uploaded_by=uploaded_by,
        data=data,
        models=models,
        acquisition_date=acquisition_date,
        identifiers_differ_ok=identifiers_differ_ok,
        on_created=on_created,
        on_identifiers_override=on_identifiers_override,
    )
