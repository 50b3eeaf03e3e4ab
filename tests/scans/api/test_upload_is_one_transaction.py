"""The upload and its audit event commit together: an accepted scan always has its event, and
a failed audit write leaves no scan, no file and no task behind."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import OperationalError

from scans import tasks
from scans.api import views
from scans.models import Scan
from tests.factories import PatientFactory, stored_files
from tests.images import png_bytes

pytestmark = [pytest.mark.usefixtures("fake_weights"), pytest.mark.django_db(transaction=True)]


def test_a_failed_audit_write_rolls_the_upload_back(owner_api, team, owner, monkeypatch):
    sent = []
    monkeypatch.setattr(tasks.classify_scan, "delay", lambda scan_id, **kwargs: sent.append(scan_id))

    def audit_down(**kwargs):
        raise OperationalError("the database system is shutting down")

    monkeypatch.setattr(views, "audit_record", audit_down)
    owner_api.raise_request_exception = False
    patient = PatientFactory(team=team, created_by=owner)
    image = SimpleUploadedFile("scan.png", png_bytes(), content_type="image/png")
    response = owner_api.post(f"/api/v1/patients/{patient.pk}/scans/", {"image": image}, format="multipart")
    assert response.status_code == 503
    assert not Scan.objects.exists()
    assert stored_files() == []
    assert sent == []
