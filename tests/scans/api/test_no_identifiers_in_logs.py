"""Patient names and record numbers never reach the logs, whatever happens to a request."""

import logging

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.images import HTML_AS_PNG, png_bytes

MRN, NAME = "MRN-SECRET-4711", "Zelda Quixote"


@pytest.mark.usefixtures("fake_weights")
def test_creating_a_patient_and_uploading_logs_no_identifiers(owner_api, caplog):
    caplog.set_level(logging.DEBUG)
    patient = owner_api.post("/api/v1/patients/", {"medical_record_number": MRN, "display_name": NAME}).json()
    owner_api.post("/api/v1/patients/", {"medical_record_number": MRN, "display_name": NAME})  # duplicate → 400
    url = f"/api/v1/patients/{patient['id']}/scans/"
    for data in (png_bytes(), HTML_AS_PNG):
        image = SimpleUploadedFile(f"{NAME}.png", data, content_type="image/png")
        owner_api.post(url, {"image": image}, format="multipart")
    assert caplog.records, "expected the requests to log something"
    assert MRN not in caplog.text
    assert NAME not in caplog.text
