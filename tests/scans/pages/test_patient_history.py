"""A patient's case history: timeline newest first with each scan's final result, chart data
on a time axis, and a query count that does not grow with the number of scans."""

import json
from datetime import date

import pytest

from scans.models import Review, Scan
from tests.factories import PatientFactory, PredictionFactory, ReviewFactory, ScanFactory
from tests.scans.pages.helpers import count_queries

pytestmark = pytest.mark.django_db


@pytest.fixture
def patient(team, owner):
    return PatientFactory(team=team, created_by=owner)


def _scans(patient, count):
    return [
        PredictionFactory(scan__patient=patient, scan__uploaded_by=patient.created_by, label="glioma").scan
        for _ in range(count)
    ]


def test_the_timeline_lists_scans_newest_first_with_their_final_result(client, owner, patient, staff_reviewer):
    older, newer = _scans(patient, 2)
    Review.objects.create(scan=older, reviewer=staff_reviewer, verdict="agree")
    client.force_login(owner)
    response = client.get(f"/patients/{patient.pk}/")
    assert [s.pk for s in response.context["page"].object_list] == [newer.pk, older.pk]
    body = response.content.decode()
    assert '<span class="label label-glioma">Glioma</span> <span class="certainty"' in body
    assert "70 %" in body and "70.0 %" not in body
    assert "confirmed by reviewer" in body and "model · not reviewed" in body
    assert f'src="/api/v1/scans/{newer.pk}/image/"' in body


def test_a_corrected_scan_shows_the_reviewers_class_and_what_the_model_said(client, owner, patient, staff_reviewer):
    [scan] = _scans(patient, 1)
    ReviewFactory(scan=scan, reviewer=staff_reviewer, verdict="corrected", corrected_label="pituitary")
    client.force_login(owner)
    body = client.get(f"/patients/{patient.pk}/").content.decode()
    assert '<span class="label label-pituitary">Pituitary tumour</span>' in body
    assert "model said Glioma" in body


@pytest.mark.parametrize(("trait", "shown"), [("refused", "Not recognised as brain MRI"), ("uncertain", "Uncertain")])
def test_refused_and_uncertain_scans_show_no_class(client, owner, patient, trait, shown):
    PredictionFactory(scan__patient=patient, **{trait: True})
    client.force_login(owner)
    body = client.get(f"/patients/{patient.pk}/").content.decode()
    assert f'<span class="label label-{trait}">{shown}</span>' in body
    assert "label-notumor" not in body.split('id="timeline-heading"')[1]


def test_the_chart_gets_one_point_per_exam_oldest_first_with_undated_ones_flagged(client, owner, patient):
    first = PredictionFactory(scan__patient=patient, scan__acquisition_date=date(2024, 1, 5), label="meningioma")
    second = PredictionFactory(scan__patient=patient, label="pituitary", confidence=0.9)
    client.force_login(owner)
    chart = client.get(f"/patients/{patient.pk}/").context["chart"]
    assert [(p["scans"], p["result"], p["x"][:10], p["dated"]) for p in chart.points] == [
        ([first.scan_id], "meningioma", "2024-01-05", True),
        ([second.scan_id], "pituitary", second.scan.created_at.date().isoformat(), False),
    ]


def test_the_chart_data_rides_on_the_canvas_not_in_a_script(client, owner, patient):
    _scans(patient, 1)
    client.force_login(owner)
    body = client.get(f"/patients/{patient.pk}/").content.decode()
    assert 'data-chart="history"' in body
    assert "<script>" not in body


def test_a_patient_without_scans_invites_an_upload(client, owner, patient):
    client.force_login(owner)
    body = client.get(f"/patients/{patient.pk}/").content.decode()
    assert "Upload the first one" in body
    assert 'data-chart="history"' not in body


def test_a_failed_scan_shows_its_reason(client, owner, patient):
    ScanFactory(patient=patient, status=Scan.Status.FAILED, error="The image could not be decoded.")
    client.force_login(owner)
    assert "The image could not be decoded." in client.get(f"/patients/{patient.pk}/").content.decode()


def test_viewing_the_history_is_audited(client, owner, patient):
    client.force_login(owner)
    client.get(f"/patients/{patient.pk}/")
    assert patient.pk in [int(e.object_id) for e in owner.audit_events.filter(action="view", object_type="patient")]


def test_the_query_count_does_not_grow_with_the_number_of_scans(client, owner, patient):
    client.force_login(owner)
    _scans(patient, 2)
    client.get(f"/patients/{patient.pk}/")  # writes the audit trail's once-a-minute row
    few = count_queries(client, f"/patients/{patient.pk}/")
    _scans(patient, 30)
    assert count_queries(client, f"/patients/{patient.pk}/") == few


def test_the_history_page_needs_a_fixed_number_of_queries(client, owner, patient, django_assert_num_queries):
    _scans(patient, 12)
    client.force_login(owner)
    client.get(f"/patients/{patient.pk}/")  # the audit trail's once-a-minute row is written here
    # session, user, patient, audit dedup, count, chart scans and their predictions, unread
    # notifications, the user's teams (header), the patient's team, scans, predictions, and
    # the session save (3, with its savepoint)
    with django_assert_num_queries(15):
        response = client.get(f"/patients/{patient.pk}/")
    assert json.loads(json.dumps(response.context["chart"].points))
