"""Image downloads. The only way an uploaded scan or a heat map leaves the server: every
request goes through the visibility selector, with a token or a browser session."""

from django.core.files.storage import default_storage
from django.http import FileResponse, Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.views import APIView

from audit.models import AuditEvent
from audit.services import audit_record
from scans import selectors


def _stored(name: str):
    """The stored file, open for reading, or None when there is none."""
    return default_storage.open(name, "rb") if name and default_storage.exists(name) else None


def _png_response(handle, download_name: str) -> FileResponse:
    if handle is None:
        raise Http404
    response = FileResponse(handle, content_type="image/png", filename=download_name)
    response["Cache-Control"] = "private, max-age=300"
    return response


class ScanImageView(APIView):
    @extend_schema(responses={(200, "image/png"): OpenApiTypes.BINARY})
    def get(self, request: Request, scan_id: int) -> FileResponse:
        scan = selectors.scan_get(user=request.user, scan_id=scan_id)
        audit_record(request=request, action=AuditEvent.Action.DOWNLOAD, obj=scan)
        handle = _stored(scan.image.name)
        if handle is None:
            # The worker re-encodes an upload, stores the result under a new name and deletes
            # the original when it commits: a row read just before that names a gone file.
            scan.refresh_from_db(fields=["image"])
            handle = _stored(scan.image.name)
        return _png_response(handle, f"scan-{scan.pk}.png")


class PredictionMapView(APIView):
    kind = ""  # "gradcam" or "saliency": the Prediction field that holds the overlay

    @extend_schema(responses={(200, "image/png"): OpenApiTypes.BINARY})
    def get(self, request: Request, scan_id: int, model: str) -> FileResponse:
        scan = selectors.scan_get(user=request.user, scan_id=scan_id)
        prediction = next((p for p in scan.predictions.all() if p.model_name == model), None)
        if prediction is None:
            raise Http404
        audit_record(request=request, action=AuditEvent.Action.DOWNLOAD, obj=scan)
        return _png_response(_stored(getattr(prediction, self.kind).name), f"scan-{scan.pk}-{model}-{self.kind}.png")
