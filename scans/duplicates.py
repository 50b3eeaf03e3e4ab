"""The same image uploaded twice for one patient: accepted (nothing is lost), but pointed out.

Two PNG or JPEG uploads are the same image when the bytes as uploaded are (Scan.sha256). A
repeat is never refused: the user may mean it (a re-run under another model, say), and a
refusal would lose the upload of someone who did not. Instead the scan page and the API point
to the first upload, so no one counts one image as two findings.

DICOM slices are left out on both sides: scans.dicom.submit already de-duplicates a series,
and the slices of one multi-frame file share the file's sha256 without being the same image.
Only the same patient counts: the earlier scan is then visible to whoever sees this one.
"""

from django.db.models import Case, IntegerField, OuterRef, QuerySet, Subquery, When

from scans.models import Scan


def _earlier_copies(*, patient_id, sha256, before_pk) -> QuerySet[Scan]:
    """Served by the (patient, sha256) index (migration 0006)."""
    return Scan.objects.filter(patient_id=patient_id, sha256=sha256, exam__isnull=True, pk__lt=before_pk).order_by("pk")


def earlier_copy_of(scan: Scan) -> Scan | None:
    """The first scan of the same patient with the same uploaded bytes, uploaded before this
    one; None when there is none or this scan is a DICOM slice."""
    if scan.exam_id is not None or not scan.sha256:
        return None
    return _earlier_copies(patient_id=scan.patient_id, sha256=scan.sha256, before_pk=scan.pk).first()


def with_earlier_copy(scans: QuerySet[Scan]) -> QuerySet[Scan]:
    """Annotates `earlier_copy_id` (what earlier_copy_of finds, as an id) in the same query,
    for lists."""
    first = _earlier_copies(patient_id=OuterRef("patient_id"), sha256=OuterRef("sha256"), before_pk=OuterRef("pk"))
    return scans.annotate(
        earlier_copy_id=Case(
            When(exam__isnull=True, then=Subquery(first.values("pk")[:1])), default=None, output_field=IntegerField()
        )
    )
