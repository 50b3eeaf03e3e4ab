"""Django admin for staff: team-scoped lists, filters, thumbnails, read-only results, the
"re-run" and "mark reviewed" actions, and no N+1 on the scan list."""

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from scans.models import Explanation, Prediction, Review, Scan
from tests.factories import PatientFactory, PredictionFactory, ReviewFactory, ScanFactory, UserFactory
from tests.scans.pages.helpers import count_queries

pytestmark = pytest.mark.django_db

SCANS = "/admin/scans/scan/"


@pytest.fixture
def reviewer_admin(staff_reviewer):
    staff_reviewer.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="scans", codename__regex=r"^(view|change)_")
    )
    client = Client()
    client.force_login(staff_reviewer)
    return client


@pytest.fixture
def patient(team, owner):
    return PatientFactory(team=team, created_by=owner, medical_record_number="ADM-001", display_name="Admin Patient")


def _ids(response):
    return [scan.pk for scan in response.context["cl"].result_list]


def test_staff_see_their_teams_scans_only(reviewer_admin, patient, other_team, outside_superuser):
    mine = PredictionFactory(scan__patient=patient).scan
    ScanFactory(patient=PatientFactory(team=other_team))
    assert _ids(reviewer_admin.get(SCANS)) == [mine.pk]
    superuser = Client()
    superuser.force_login(outside_superuser)
    assert mine.pk not in _ids(superuser.get(SCANS))
    assert superuser.get(f"{SCANS}{mine.pk}/change/").status_code == 302  # "does not exist", back to the index


def test_the_scan_list_has_thumbnails_through_the_access_checked_view(reviewer_admin, patient):
    scan = PredictionFactory(scan__patient=patient).scan
    body = reviewer_admin.get(SCANS).content.decode()
    assert f'src="/api/v1/scans/{scan.pk}/image/"' in body
    assert "Glioma 70 % (model, not reviewed)" in body


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("status=failed", {"failed"}),
        ("result=pituitary", {"pituitary"}),
        ("result=non_diagnostic", {"changed"}),
        ("model=xception", {"xception"}),
        ("reviewed=yes", {"agreed", "changed"}),
        ("reviewed=changed", {"changed"}),
    ],
)
def test_the_scan_list_filters_by_the_final_result(reviewer_admin, patient, staff_reviewer, query, expected):
    scans = {
        "failed": ScanFactory(patient=patient, status=Scan.Status.FAILED),
        "pituitary": PredictionFactory(scan__patient=patient, label="pituitary").scan,
        "xception": PredictionFactory(scan__patient=patient, model_name="xception").scan,
        "agreed": PredictionFactory(scan__patient=patient).scan,
        "changed": PredictionFactory(scan__patient=patient).scan,
    }
    Review.objects.create(scan=scans["agreed"], reviewer=staff_reviewer, verdict="agree")
    Review.objects.create(scan=scans["changed"], reviewer=staff_reviewer, verdict="non_diagnostic")
    assert set(_ids(reviewer_admin.get(f"{SCANS}?{query}"))) == {scans[key].pk for key in expected}


def test_the_scan_list_query_count_does_not_grow_with_the_number_of_scans(reviewer_admin, patient):
    PredictionFactory.create_batch(2, scan__patient=patient)
    few = count_queries(reviewer_admin, SCANS)
    PredictionFactory.create_batch(25, scan__patient=patient)
    assert count_queries(reviewer_admin, SCANS) == few


def test_results_are_read_only(reviewer_admin, patient):
    scan = PredictionFactory(scan__patient=patient).scan
    response = reviewer_admin.get(f"{SCANS}{scan.pk}/change/")
    assert response.status_code == 200
    body = response.content.decode()
    assert 'name="status"' not in body
    assert f'src="/api/v1/scans/{scan.pk}/predictions/custom_cnn/gradcam/"' in body


def test_rerun_classification_requeues_the_scan_through_the_service(
    reviewer_admin, patient, django_capture_on_commit_callbacks, monkeypatch
):
    from scans import tasks

    queued = []
    monkeypatch.setattr(tasks, "enqueue_classification", queued.append)
    scan = PredictionFactory(scan__patient=patient).scan
    with django_capture_on_commit_callbacks(execute=True):
        reviewer_admin.post(SCANS, {"action": "rerun_classification", "_selected_action": [scan.pk]})
    scan.refresh_from_db()
    assert (scan.status, scan.attempts, queued) == (Scan.Status.QUEUED, 0, [scan.pk])
    assert not Prediction.objects.filter(scan=scan).exists()


def test_rerun_refuses_a_scan_still_in_progress(reviewer_admin, patient):
    scan = ScanFactory(patient=patient, status=Scan.Status.PROCESSING)
    response = reviewer_admin.post(
        SCANS, {"action": "rerun_classification", "_selected_action": [scan.pk]}, follow=True
    )
    assert "Only a finished or failed scan can be re-run." in response.content.decode()


def test_mark_reviewed_records_agreement_by_the_reviewer(reviewer_admin, patient, staff_reviewer):
    scan = PredictionFactory(scan__patient=patient).scan
    reviewer_admin.post(SCANS, {"action": "mark_reviewed", "_selected_action": [scan.pk]})
    review = Review.objects.get()
    assert (review.scan, review.reviewer, review.verdict) == (scan, staff_reviewer, "agree")


def test_patients_are_searchable_by_mrn_with_their_scans_inline(reviewer_admin, patient, team):
    PatientFactory(team=team, medical_record_number="OTHER-9")
    scan = PredictionFactory(scan__patient=patient).scan
    found = reviewer_admin.get("/admin/scans/patient/", {"q": "ADM-001"})
    assert [p.pk for p in found.context["cl"].result_list] == [patient.pk]
    body = reviewer_admin.get(f"/admin/scans/patient/{patient.pk}/change/").content.decode()
    assert f"Scan {scan.pk}" in body


def test_reviews_are_listed_for_the_teams_scans(reviewer_admin, patient, staff_reviewer, other_team):
    mine = Review.objects.create(
        scan=PredictionFactory(scan__patient=patient).scan, reviewer=staff_reviewer, verdict="agree"
    )
    Review.objects.create(
        scan=PredictionFactory(scan__patient=PatientFactory(team=other_team)).scan,
        reviewer=staff_reviewer,
        verdict="agree",
    )
    response = reviewer_admin.get("/admin/scans/review/")
    assert [r.pk for r in response.context["cl"].result_list] == [mine.pk]


@pytest.mark.parametrize(
    "url", ["/admin/accounts/team/", "/admin/accounts/user/", "/admin/scans/patient/", SCANS, "/admin/scans/review/"]
)
def test_superusers_get_every_list(outside_superuser, url):
    client = Client()
    client.force_login(outside_superuser)
    assert client.get(url).status_code == 200


def test_anonymous_visitors_are_sent_to_the_admin_login(client, db):
    response = client.get(SCANS)
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_a_superuser_opens_every_change_page_with_its_inlines(client, team, staff_reviewer):
    """The inlines' empty "add" row once built a heat-map URL with no scan: a 500 for superusers."""
    superuser = UserFactory(username="root", is_staff=True, is_superuser=True, teams=[team])
    patient = PatientFactory(team=team)
    scan = PredictionFactory(scan__patient=patient).scan
    Explanation.objects.create(scan=scan, provider="offline", status="done", text="Offline text.")
    review = ReviewFactory(scan=scan, reviewer=staff_reviewer, verdict="corrected", corrected_label="pituitary")
    client.force_login(superuser)
    pages = {
        f"/admin/scans/patient/{patient.pk}/change/": f"Scan {scan.pk}",
        f"{SCANS}{scan.pk}/change/": "Offline text.",
        f"/admin/scans/review/{review.pk}/change/": "pituitary",
        f"/admin/accounts/team/{team.pk}/change/": team.name,
        f"/admin/accounts/user/{superuser.pk}/change/": "root",
    }
    for url, expected in pages.items():
        response = client.get(url)
        assert response.status_code == 200, url
        assert expected in response.content.decode(), url
    body = client.get(SCANS).content.decode()
    assert "Pituitary tumour (reviewer reviewer; model said Glioma)" in body
