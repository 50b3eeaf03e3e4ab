"""DICOM through the upload API: a slice answers like a PNG, a series with its exam, a bad
file with its reason — and nothing that names the patient is ever stored."""

import warnings

import numpy as np
import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command

from audit.models import AuditEvent
from scans import intake
from scans.models import Exam, Scan
from tests.dicom_files import (
    FORBIDDEN,
    SAGITTAL,
    SERIES_UID,
    STUDY_UID,
    SYNTAXES,
    compressed,
    dicom_bytes,
    mr_dataset,
    ramp,
    zipped,
)
from tests.factories import PatientFactory, stored_files

pytestmark = pytest.mark.usefixtures("fake_weights")


@pytest.fixture
def patient(team, owner):
    # The files' PatientID is FORBIDDEN["PatientID"]: this patient's record number matches it.
    return PatientFactory(team=team, created_by=owner, medical_record_number=FORBIDDEN["PatientID"])


def upload(client, patient, data: bytes, name: str = "IM0001", **fields):
    image = SimpleUploadedFile(name, data, content_type="application/dicom")
    return client.post(f"/api/v1/patients/{patient.pk}/scans/", {"image": image, **fields}, format="multipart")


def series(count: int, **attributes) -> dict[str, bytes]:
    """A series of `count` axial slices, written in shuffled order, each 5 mm from the last."""
    order = [2, 0, 3, 1, 4, 5, 6, 7][:count] if count <= 8 else list(range(count))
    return {
        f"DICOM/S1/IM{i:04d}": dicom_bytes(
            mr_dataset(ramp(), InstanceNumber=i + 1, ImagePositionPatient=[0, 0, 5.0 * i], **attributes)
        )
        for i in order
    }


def test_a_single_slice_answers_like_a_png(owner_api, patient):
    response = upload(owner_api, patient, dicom_bytes(mr_dataset(ramp())))
    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "queued"
    assert response["Location"].endswith(f"/api/v1/scans/{body['id']}/")
    assert body["dicom"]["modality"] == "MR"
    assert body["dicom"]["orientation"] == "axial"
    assert body["dicom"]["field_strength_t"] == 1.5
    assert body["dicom"]["slice_thickness_mm"] == 5.0
    assert body["dicom"]["pixel_spacing_mm"] == [0.5, 0.5]
    assert body["dicom"]["series_description"] == "AX T1 POST"
    assert body["exam"] == Exam.objects.get().pk


def test_the_study_date_fills_an_empty_acquisition_date_but_never_overrides_one(owner_api, patient):
    first = upload(owner_api, patient, dicom_bytes(mr_dataset(ramp()))).json()
    second = upload(owner_api, patient, dicom_bytes(mr_dataset(ramp())), acquisition_date="2024-01-02").json()
    assert first["acquisition_date"] == "2024-03-05"
    assert second["acquisition_date"] == "2024-01-02"


@pytest.mark.parametrize("syntax", list(SYNTAXES))
def test_compressed_slices_are_accepted(owner_api, patient, syntax):
    stored = ramp(dtype=np.uint8, high=255) if syntax == "jpeg" else ramp()
    response = upload(owner_api, patient, compressed(mr_dataset(stored), SYNTAXES[syntax]))
    assert response.status_code == 202, response.json()


def test_a_zipped_series_makes_one_exam_with_its_slices_in_order(owner_api, patient):
    files = {**series(6), "DICOMDIR": b"\0" * 128 + b"DICM" + b"\0" * 64, "README.txt": b"export"}
    response = upload(owner_api, patient, zipped(files), name="series.zip")
    assert response.status_code == 202
    body = response.json()
    exam = Exam.objects.get()
    assert body["exam"] == exam.pk
    assert [s["dicom"]["instance_number"] for s in body["scans"]] == [1, 2, 3, 4, 5, 6]
    assert {s["exam"] for s in body["scans"]} == {exam.pk}
    assert sorted(body["skipped"]) == ["DICOMDIR", "README.txt"]
    assert (exam.modality, exam.orientation, exam.series_description) == ("MR", "axial", "AX T1 POST")


def test_the_exam_answers_with_its_slices_in_order_and_its_progress(owner_api, patient):
    body = upload(owner_api, patient, zipped(series(4)), name="series.zip").json()
    exam = owner_api.get(f"/api/v1/exams/{body['exam']}/").json()
    assert exam["slices"] == [s["id"] for s in body["scans"]]
    assert (exam["modality"], exam["orientation"], exam["series_description"]) == ("MR", "axial", "AX T1 POST")
    assert (exam["done"], exam["pending"], exam["by_result"], exam["most_suspicious"]) == (0, 4, {}, [])


def test_another_teams_exam_is_a_404(owner_api, patient, other_team):
    from tests.conftest import token_client
    from tests.factories import UserFactory

    body = upload(owner_api, patient, zipped(series(2)), name="series.zip").json()
    outsider = token_client(UserFactory(teams=[other_team]))
    assert outsider.get(f"/api/v1/exams/{body['exam']}/").status_code == 404


def test_slices_sent_one_file_at_a_time_join_one_exam(owner_api, patient):
    for data in series(3).values():
        assert upload(owner_api, patient, data).status_code == 202
    assert Exam.objects.count() == 1
    assert Exam.objects.get().scans.count() == 3


def test_sending_the_same_series_again_adds_nothing_and_answers_with_the_same_slices(
    owner_api, patient, django_capture_on_commit_callbacks
):
    data = zipped(series(3))
    first = upload(owner_api, patient, data, name="series.zip").json()
    files = sorted(stored_files())
    events = AuditEvent.objects.filter(action="create").count()
    with django_capture_on_commit_callbacks(execute=True):
        again = upload(owner_api, patient, data, name="series.zip").json()
    assert [s["id"] for s in again["scans"]] == [s["id"] for s in first["scans"]]
    assert again["exam"] == first["exam"]
    assert Scan.objects.count() == 3
    assert sorted(stored_files()) == files
    assert AuditEvent.objects.filter(action="create").count() == events


def test_a_multi_frame_file_becomes_one_slice_per_frame(owner_api, patient):
    frames = np.stack([ramp(), ramp()[::-1], ramp()[:, ::-1]])
    response = upload(owner_api, patient, dicom_bytes(mr_dataset(frames)))
    assert response.status_code == 202
    assert [s["dicom"]["frame"] for s in response.json()["scans"]] == [0, 1, 2]


def test_a_ct_is_accepted_with_the_modality_gates_refusal_recorded(owner_api, patient):
    body = upload(owner_api, patient, dicom_bytes(mr_dataset(ramp(), Modality="CT"))).json()
    assert body["dicom"]["refusal"].startswith("CT, not MRI")


def test_a_sagittal_slice_and_burned_in_text_are_warned_about(owner_api, patient):
    data = dicom_bytes(mr_dataset(ramp(), ImageOrientationPatient=SAGITTAL, BurnedInAnnotation="YES"))
    warnings = " ".join(upload(owner_api, patient, data).json()["dicom"]["warnings"])
    assert "This slice is sagittal." in warnings
    assert "Burned In Annotation" in warnings


def test_a_file_of_another_patient_is_refused_unless_the_uploader_says_so(owner_api, owner, team):
    patient = PatientFactory(team=team, created_by=owner, medical_record_number="MRN-1")
    refused = upload(owner_api, patient, dicom_bytes(mr_dataset(ramp())))
    assert refused.status_code == 400
    assert "Patient ID is not this patient's record number" in " ".join(refused.json()["identifiers_differ_ok"])
    assert FORBIDDEN["PatientID"] not in refused.content.decode()
    assert not Scan.objects.exists() and stored_files() == []

    accepted = upload(owner_api, patient, dicom_bytes(mr_dataset(ramp())), identifiers_differ_ok="true")
    assert accepted.status_code == 202
    exam = Exam.objects.get()
    assert exam.identifiers_differ
    assert AuditEvent.objects.filter(action="create", object_type="exam", object_id=str(exam.pk)).exists()


def test_an_accepted_identifiers_mismatch_is_its_own_audit_event(owner_api, owner, team):
    patient = PatientFactory(team=team, created_by=owner, medical_record_number="MRN-1")
    upload(owner_api, patient, dicom_bytes(mr_dataset(ramp())), identifiers_differ_ok="true")
    exam = Exam.objects.get()
    [event] = AuditEvent.objects.filter(action=AuditEvent.Action.IDENTIFIERS_OVERRIDE)
    assert (event.actor, event.object_type, event.object_id, event.patient_id) == (
        owner,
        "exam",
        str(exam.pk),
        patient.pk,
    )
    assert FORBIDDEN["PatientID"] not in str(event.__dict__)


def test_no_override_is_recorded_when_the_identifiers_match_even_if_the_box_was_ticked(owner_api, patient):
    assert upload(owner_api, patient, dicom_bytes(mr_dataset(ramp())), identifiers_differ_ok="true").status_code == 202
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.IDENTIFIERS_OVERRIDE).exists()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\0" * 128 + b"DICM" + b"\x02\x00\x10\x00UI\x04\x001.2", "damaged or truncated|no image"),
        (dicom_bytes(mr_dataset(ramp()))[:-2000], "truncated"),
        (dicom_bytes(mr_dataset(ramp(16, 16))), "too small"),
    ],
    ids=["header-only", "truncated-pixels", "too-small"],
)
def test_a_dicom_that_cannot_be_used_is_a_400_with_no_file_and_no_row(owner_api, patient, data, message):
    response = upload(owner_api, patient, data)
    assert response.status_code == 400
    assert any(word in " ".join(response.json()["image"]) for word in message.split("|"))
    assert not Scan.objects.exists() and not Exam.objects.exists()
    assert stored_files() == []


def test_a_file_without_pixel_data_says_so(owner_api, patient):
    ds = mr_dataset(ramp())
    del ds.PixelData
    response = upload(owner_api, patient, dicom_bytes(ds))
    assert response.status_code == 400
    assert "no image (no Pixel Data)" in " ".join(response.json()["image"])


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"../evil.dcm": b"x"}, "unsafe path"),
        ({"inner.zip": zipped({"a.dcm": b"x"})}, "another archive"),
        ({"notes.txt": b"nothing here"}, "no usable DICOM"),
    ],
    ids=["path-traversal", "nested-zip", "no-dicom"],
)
def test_a_zip_we_will_not_open_is_a_400(owner_api, patient, files, message):
    response = upload(owner_api, patient, zipped(files), name="export.zip")
    assert response.status_code == 400
    assert message in " ".join(response.json()["image"])
    assert stored_files() == []


def test_a_zip_bomb_is_refused_before_it_is_unpacked(owner_api, patient, settings):
    settings.DICOM_ZIP_MAX_BYTES = 10 * 1024 * 1024
    bomb = zipped({"IM0001": b"\0" * 128 + b"DICM" + b"\0" * (64 * 1024 * 1024)})
    assert len(bomb) < 200 * 1024
    response = upload(owner_api, patient, bomb, name="bomb.zip")
    assert response.status_code == 400
    assert "unpacks to more than 10 MB" in " ".join(response.json()["image"])


def test_too_many_files_in_a_zip_is_a_400(owner_api, patient, settings):
    settings.DICOM_ZIP_MAX_FILES = 3
    response = upload(owner_api, patient, zipped(series(4)), name="series.zip")
    assert response.status_code == 400
    assert "the limit is 3" in " ".join(response.json()["image"])


def test_a_bad_slice_in_a_zip_is_skipped_with_its_reason(owner_api, patient):
    files = {**series(2), "DICOM/S1/BROKEN": dicom_bytes(mr_dataset(ramp()))[:-2000]}
    body = upload(owner_api, patient, zipped(files), name="series.zip").json()
    assert len(body["scans"]) == 2
    assert body["skipped"] == [
        "BROKEN: The DICOM file is truncated: its pixel data is shorter than its rows and columns say."
    ]


def test_no_identifier_reaches_the_database_or_the_disk(owner_api, owner, team, django_capture_on_commit_callbacks):
    """RELIABILITY 24: after upload and the worker's rendering, every forbidden attribute's
    value (and the clear UIDs) is searched for in a dump of the tables and in every stored file."""
    patient = PatientFactory(team=team, created_by=owner, medical_record_number="MRN-1")
    files = series(3, ImageOrientationPatient=SAGITTAL)
    files["DICOM/S1/IM0100"] = compressed(mr_dataset(ramp()), SYNTAXES["rle"])
    response = upload(owner_api, patient, zipped(files), name="export.zip", identifiers_differ_ok="true")
    scan_ids = [s["id"] for s in response.json()["scans"]]
    # Half rendered by the worker, half still waiting under incoming/: both must be clean.
    with django_capture_on_commit_callbacks(execute=True):
        for scan_id in scan_ids[:2]:
            assert intake.scan_image_sanitize(scan_id)

    names = stored_files()
    assert any(n.startswith("scans/") for n in names) and any(n.startswith("incoming/") for n in names)
    stored = b"".join(default_storage.open(name).read() for name in names)
    dump = _database_dump()
    for value in [*FORBIDDEN.values(), STUDY_UID, SERIES_UID, "Zebedee", "Quixotic"]:
        assert value not in dump, f"{value} is in the database"
        assert value.encode() not in stored, f"{value} is in a stored file"


def test_malformed_identifiers_are_not_quoted_in_any_log_or_warning(owner_api, patient, caplog, recwarn):
    """pydicom's warning about an invalid value quotes it ("Invalid value for VR UI: '…'")."""
    bad_uid = "1.2.840.SECRETUID.77"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # writing such a file may warn too
        data = dicom_bytes(mr_dataset(ramp(), SeriesInstanceUID=bad_uid, PatientBirthDate="1923-04-17"))
    recwarn.clear()
    caplog.clear()  # writing the file may have logged the values: only the upload is judged
    with caplog.at_level("DEBUG"):
        response = upload(owner_api, patient, data)
    assert response.status_code == 202
    said = caplog.text + " ".join(str(w.message) for w in recwarn)
    for value in (bad_uid, "1923-04-17", FORBIDDEN["PatientID"]):
        assert value not in said


def _database_dump() -> str:
    from io import StringIO

    out = StringIO()
    call_command("dumpdata", "scans", "audit", "accounts", stdout=out)
    return out.getvalue()
