"""The case history shows the slices of one DICOM series as one row: slice count, orientation,
description, slices per final result and the most suspicious slice first, linking to the exam
page; PNG and JPEG scans stay one row each, and a long series does not fill the pages."""

import pytest

from scans.history import ExamRow
from scans.models import Exam, Scan
from tests.factories import PatientFactory, PredictionFactory, ScanFactory
from tests.scans.pages.helpers import count_queries

pytestmark = pytest.mark.django_db


@pytest.fixture
def patient(team, owner):
    return PatientFactory(team=team, created_by=owner)


def an_exam(patient, key="series", **fields):
    defaults = {"modality": "MR", "orientation": "axial", "series_description": "T1 AX POST"}
    return Exam.objects.create(
        patient=patient, uploaded_by=patient.created_by, series_key=key, **{**defaults, **fields}
    )


def a_slice(exam, position, **prediction):
    scan = ScanFactory(patient=exam.patient, exam=exam, dicom={"slice_position_mm": position, "instance_number": 1})
    if prediction:
        PredictionFactory(scan=scan, **prediction)
    return scan


def history(client, owner, patient, page=None):
    client.force_login(owner)
    url = f"/patients/{patient.pk}/" + (f"?page={page}" if page else "")
    return client.get(url)


def test_the_slices_of_one_series_are_one_row_beside_each_png_scan(client, owner, patient):
    before = PredictionFactory(scan__patient=patient, label="notumor").scan
    exam = an_exam(patient)
    for position in (0.0, 5.0, 10.0):
        a_slice(exam, position, label="notumor", confidence=0.9)
    after = PredictionFactory(scan__patient=patient, label="glioma").scan
    rows = history(client, owner, patient).context["page"].object_list
    assert [row.exam.pk if isinstance(row, ExamRow) else row.pk for row in rows] == [after.pk, exam.pk, before.pk]


def test_the_series_row_shows_its_count_orientation_description_and_links_to_the_exam(client, owner, patient):
    exam = an_exam(patient, orientation="sagittal")
    for position in (0.0, 5.0):
        a_slice(exam, position, label="notumor", confidence=0.9)
    body = history(client, owner, patient).content.decode()
    assert "MR series · 2 slices · sagittal · T1 AX POST" in body
    assert f'href="/exams/{exam.pk}/"' in body
    assert "This series is sagittal: nearly all the model's no-tumour training slices were axial" in body
    assert f'href="/scans/{exam.scans.first().pk}/"' not in body


def test_the_summary_counts_slices_per_final_result_and_names_the_most_suspicious_first(client, owner, patient):
    exam = an_exam(patient)
    a_slice(exam, 0.0, label="notumor", confidence=0.95)
    a_slice(exam, 5.0, label="notumor", confidence=0.9)
    suspicious = a_slice(exam, 10.0, label="glioma", confidence=0.8)
    a_slice(exam, 15.0, refused=True)
    a_slice(exam, 20.0)
    response = history(client, owner, patient)
    [row] = response.context["page"].object_list
    assert row.summary.by_result == {"notumor": 2, "glioma": 1, "refused": 1}
    assert row.shown == suspicious
    body = response.content.decode()
    assert '<span class="label label-notumor">No tumour</span> 2 slices' in body
    assert '<span class="label label-glioma">Glioma</span> 1 slice<' in body
    assert f'Most suspicious: <a href="/exams/{exam.pk}/#slice-3">slice 3</a>' in body
    assert f'src="/api/v1/scans/{suspicious.pk}/image/"' in body
    assert "1 of 5 slices without a result yet." in body


def test_a_series_still_being_classified_shows_its_first_slice_and_no_counts(client, owner, patient):
    exam = an_exam(patient)
    first = a_slice(exam, -5.0)
    a_slice(exam, 5.0)
    body = history(client, owner, patient).content.decode()
    assert f'src="/api/v1/scans/{first.pk}/image/"' in body
    assert "2 of 2 slices without a result yet." in body
    assert "Most suspicious" not in body


def test_a_long_series_takes_one_row_of_the_page_not_many_pages(client, owner, patient):
    exam = an_exam(patient)
    for position in range(60):
        ScanFactory(patient=patient, exam=exam, status=Scan.Status.QUEUED, dicom={"slice_position_mm": float(position)})
    page = history(client, owner, patient).context["page"]
    assert page.paginator.count == 1
    assert page.paginator.num_pages == 1


def test_an_identifiers_override_is_shown_on_the_row(client, owner, patient):
    a_slice(an_exam(patient, identifiers_differ=True), 0.0, label="notumor")
    assert "Patient ID differs from this patient's record number" in history(client, owner, patient).content.decode()


def test_the_query_count_does_not_grow_with_the_number_of_series_or_slices(client, owner, patient):
    client.force_login(owner)
    a_slice(an_exam(patient, key="a"), 0.0, label="glioma")
    client.get(f"/patients/{patient.pk}/")  # writes the audit trail's once-a-minute row
    few = count_queries(client, f"/patients/{patient.pk}/")
    for key in "bcd":
        exam = an_exam(patient, key=key)
        for position in range(4):
            a_slice(exam, float(position), label="notumor")
    assert count_queries(client, f"/patients/{patient.pk}/") == few
