"""CSV exports: one row per prediction, round-trip through Python's csv, formula cells escaped,
a BOM for Excel, the page's filters kept, a de-identified variant, streamed, audited."""

import csv
import io

import pytest

from audit.models import AuditEvent
from scans.models import Scan
from scans.reports.csv_export import cell_escape
from tests.conftest import session_client, token_client
from tests.factories import PatientFactory, PredictionFactory, ReviewFactory, ScanFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def patient(team, owner):
    return PatientFactory(team=team, created_by=owner, display_name='=HYPERLINK("x")', medical_record_number="@MRN-1")


def read(response) -> tuple[bytes, list[dict]]:
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response.streaming
    data = b"".join(response.streaming_content)
    return data, list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))


@pytest.mark.parametrize("value", ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"])
def test_a_cell_a_spreadsheet_would_run_is_escaped(value):
    assert cell_escape(value) == "'" + value


def test_plain_text_and_numbers_are_left_alone():
    assert cell_escape("glioma") == "glioma"
    assert cell_escape(0.25) == 0.25


def test_the_scan_list_export_has_one_row_per_prediction_and_round_trips(patient, owner, staff_reviewer):
    scan = ScanFactory(patient=patient, status=Scan.Status.DONE)
    PredictionFactory(scan=scan, model_name="custom_cnn", label="glioma", confidence=0.7)
    PredictionFactory(scan=scan, model_name="xception", label="glioma", confidence=0.9)
    ReviewFactory(scan=scan, reviewer=staff_reviewer, verdict="corrected", corrected_label="meningioma")

    data, rows = read(session_client(owner).get("/scans/export.csv"))

    assert data.startswith(b"\xef\xbb\xbf")
    assert [row["model"] for row in rows] == ["custom_cnn", "xception"]
    row = rows[0]
    assert row["scan_id"] == str(scan.pk) and row["patient_id"] == str(patient.pk)
    assert row["patient_name"] == '\'=HYPERLINK("x")'
    assert row["mrn"] == "'@MRN-1"
    assert (row["outcome"], row["label"], row["confidence"]) == ("classified", "glioma", "0.7")
    assert float(row["p_glioma"]) == pytest.approx(0.7)
    assert row["model_version"] == "a" * 64
    assert (row["final_result"], row["final_result_source"], row["changed_by_review"]) == (
        "meningioma",
        "review",
        "yes",
    )
    assert row["reviewer"] == staff_reviewer.username and row["reviewed_at"]


def test_an_uncertain_or_refused_prediction_has_no_label_and_a_failed_scan_still_has_a_row(patient, owner):
    PredictionFactory(scan=ScanFactory(patient=patient, status=Scan.Status.DONE), uncertain=True)
    PredictionFactory(scan=ScanFactory(patient=patient, status=Scan.Status.DONE), refused=True)
    failed = ScanFactory(patient=patient, status=Scan.Status.FAILED)

    _, rows = read(session_client(owner).get("/scans/export.csv?sort=oldest"))

    uncertain, refused, failure = rows
    assert (uncertain["outcome"], uncertain["label"], uncertain["final_result"]) == ("uncertain", "", "uncertain")
    assert uncertain["p_glioma"] == "0.55"
    assert (refused["outcome"], refused["label"], refused["confidence"], refused["final_result"]) == (
        "refused",
        "",
        "",
        "refused",
    )
    assert refused["outcome_reason"].startswith("Not recognised")
    assert (failure["scan_id"], failure["status"], failure["model"]) == (str(failed.pk), "failed", "")


def test_the_export_keeps_the_lists_filters(patient, owner):
    PredictionFactory(scan=ScanFactory(patient=patient, status=Scan.Status.DONE), label="glioma")
    PredictionFactory(scan=ScanFactory(patient=patient, status=Scan.Status.DONE), label="pituitary")

    _, rows = read(session_client(owner).get("/scans/export.csv?result=pituitary"))

    assert [row["final_result"] for row in rows] == ["pituitary"]


def test_an_invalid_filter_is_refused_rather_than_widened_to_every_scan(patient, owner, outsider):
    theirs = PatientFactory(team=outsider.teams.get(), created_by=outsider)

    response = token_client(owner).get(f"/api/v1/scans/export.csv?patient={theirs.pk}")

    assert response.status_code == 400
    assert "patient" in response.json()


def test_the_deidentified_export_drops_name_mrn_and_patient_id_and_keeps_a_pseudonym(team, patient, owner):
    other = PatientFactory(team=team, created_by=owner)
    for who in (patient, patient, other):
        PredictionFactory(scan=ScanFactory(patient=who, status=Scan.Status.DONE))

    data, rows = read(token_client(owner).get("/api/v1/scans/export.csv?deidentified=1"))

    assert {"patient_id", "mrn", "patient_name"}.isdisjoint(rows[0])
    assert b"MRN-1" not in data and b"HYPERLINK" not in data
    assert len({row["patient_pseudonym"] for row in rows}) == 2
    _, again = read(token_client(owner).get("/api/v1/scans/export.csv?deidentified=1"))
    assert {row["patient_pseudonym"] for row in rows}.isdisjoint(row["patient_pseudonym"] for row in again)


def test_a_patients_export_holds_only_that_patient(team, patient, owner):
    PredictionFactory(scan=ScanFactory(patient=patient, status=Scan.Status.DONE))
    PredictionFactory(scan=ScanFactory(patient=PatientFactory(team=team, created_by=owner), status=Scan.Status.DONE))

    _, rows = read(token_client(owner).get(f"/api/v1/patients/{patient.pk}/export.csv"))

    assert [row["patient_id"] for row in rows] == [str(patient.pk)]


def test_every_export_is_in_the_audit_trail_under_each_patient(team, patient, owner):
    other = PatientFactory(team=team, created_by=owner)
    for who in (patient, other):
        PredictionFactory(scan=ScanFactory(patient=who, status=Scan.Status.DONE))
    client = session_client(owner)

    read(client.get("/scans/export.csv"))
    read(client.get(f"/patients/{patient.pk}/export.csv"))

    exported = AuditEvent.objects.filter(actor=owner, action="export")
    assert sorted(exported.values_list("patient_id", flat=True)) == sorted([patient.pk, other.pk, patient.pk])


def test_thousands_of_rows_stream_in_chunks(patient, owner, django_assert_max_num_queries):
    scans = Scan.objects.bulk_create(
        Scan(
            patient=patient,
            uploaded_by=owner,
            image="scans/x.png",
            sha256="0" * 64,
            width=1,
            height=1,
            status=Scan.Status.FAILED,
        )
        for _ in range(1200)
    )
    response = session_client(owner).get("/scans/export.csv")

    # The body is produced as it is read: a query per chunk of 500 scans, not one list in memory.
    with django_assert_max_num_queries(12):
        _, rows = read(response)
    assert len(rows) == len(scans)
