"""The scan history: filters in the URL (the final result among them), sorting, pagination,
stacked cards on a phone, and a query count that does not grow with the number of scans."""

from datetime import timedelta

import pytest
from django.utils import timezone

from scans.models import Review, Scan
from tests.factories import PatientFactory, PredictionFactory, ReviewFactory, ScanFactory
from tests.scans.pages.helpers import count_queries

pytestmark = pytest.mark.django_db


@pytest.fixture
def ann(team, owner):
    return PatientFactory(team=team, created_by=owner, display_name="Ann")


@pytest.fixture
def bob(team, owner):
    return PatientFactory(team=team, created_by=owner, display_name="Bob")


@pytest.fixture
def logged_in(client, owner):
    client.force_login(owner)
    return client


def _ids(response):
    return [scan.pk for scan in response.context["page"].object_list]


def test_it_filters_by_patient(logged_in, ann, bob):
    mine = PredictionFactory(scan__patient=ann).scan
    PredictionFactory(scan__patient=bob)
    assert _ids(logged_in.get("/scans/", {"patient": ann.pk})) == [mine.pk]


def test_it_filters_by_final_result_and_model(logged_in, ann, staff_reviewer):
    glioma = PredictionFactory(scan__patient=ann, label="glioma").scan
    both = PredictionFactory(scan__patient=ann, label="pituitary").scan
    PredictionFactory(scan=both, model_name="xception", label="glioma")
    corrected = PredictionFactory(scan__patient=ann, label="meningioma").scan
    ReviewFactory(scan=corrected, reviewer=staff_reviewer, verdict="corrected", corrected_label="glioma")
    refused = PredictionFactory(scan__patient=ann, refused=True).scan
    assert set(_ids(logged_in.get("/scans/", {"result": "glioma"}))) == {glioma.pk, corrected.pk}
    assert _ids(logged_in.get("/scans/", {"result": "meningioma"})) == []
    assert _ids(logged_in.get("/scans/", {"result": "uncertain"})) == [both.pk]  # the models disagree
    assert _ids(logged_in.get("/scans/", {"result": "refused"})) == [refused.pk]
    assert _ids(logged_in.get("/scans/", {"model": "xception"})) == [both.pk]


def test_it_filters_scans_where_model_and_reviewer_disagree(logged_in, ann, staff_reviewer):
    agreed = PredictionFactory(scan__patient=ann).scan
    ReviewFactory(scan=agreed, reviewer=staff_reviewer, verdict="agree")
    changed = PredictionFactory(scan__patient=ann).scan
    ReviewFactory(scan=changed, reviewer=staff_reviewer, verdict="non_diagnostic")
    PredictionFactory(scan__patient=ann)
    response = logged_in.get("/scans/", {"reviewed": "changed"})
    assert _ids(response) == [changed.pk]
    body = response.content.decode()
    assert '<span class="label label-non_diagnostic">Non-diagnostic image</span>' in body
    assert "model said Glioma" in body


def test_each_cell_names_its_column_for_the_phone_layout(logged_in, ann):
    PredictionFactory(scan__patient=ann)
    body = logged_in.get("/scans/").content.decode()
    assert '<table class="stack-on-phone">' in body
    assert '<td data-label="Final result">' in body


def test_it_filters_by_status_and_review(logged_in, ann, staff_reviewer):
    reviewed = PredictionFactory(scan__patient=ann).scan
    open_ = PredictionFactory(scan__patient=ann).scan
    failed = ScanFactory(patient=ann, status=Scan.Status.FAILED)
    Review.objects.create(scan=reviewed, reviewer=staff_reviewer, verdict="agree")
    assert _ids(logged_in.get("/scans/", {"status": "failed"})) == [failed.pk]
    assert _ids(logged_in.get("/scans/", {"reviewed": "yes"})) == [reviewed.pk]
    assert _ids(logged_in.get("/scans/", {"status": "done", "reviewed": "no"})) == [open_.pk]


def test_it_filters_by_date_range(logged_in, ann):
    old = ScanFactory(patient=ann)
    Scan.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=40))
    new = ScanFactory(patient=ann)
    since = (timezone.now() - timedelta(days=7)).date().isoformat()
    until = (timezone.now() - timedelta(days=30)).date().isoformat()
    assert _ids(logged_in.get("/scans/", {"date_from": since})) == [new.pk]
    assert _ids(logged_in.get("/scans/", {"date_to": until})) == [old.pk]


def test_it_sorts(logged_in, ann, bob):
    first = ScanFactory(patient=bob)
    second = ScanFactory(patient=ann)
    assert _ids(logged_in.get("/scans/")) == [second.pk, first.pk]
    assert _ids(logged_in.get("/scans/", {"sort": "oldest"})) == [first.pk, second.pk]
    assert _ids(logged_in.get("/scans/", {"sort": "patient"})) == [second.pk, first.pk]


def test_an_invalid_filter_is_ignored_not_an_error(logged_in, ann):
    scan = ScanFactory(patient=ann)
    response = logged_in.get("/scans/", {"status": "bogus", "date_from": "yesterday", "sort": "x"})
    assert _ids(response) == [scan.pk]


def test_another_teams_patient_as_a_filter_shows_nothing_of_theirs(logged_in, other_team):
    stranger = PatientFactory(team=other_team)
    ScanFactory(patient=stranger)
    assert _ids(logged_in.get("/scans/", {"patient": stranger.pk})) == []


def test_pages_and_sort_links_keep_the_filters(logged_in, ann):
    ScanFactory.create_batch(27, patient=ann, status=Scan.Status.QUEUED)
    response = logged_in.get("/scans/", {"status": "queued"})
    body = response.content.decode()
    assert response.context["page"].paginator.num_pages == 2
    assert 'href="?status=queued&amp;page=2"' in body
    assert 'href="?status=queued&amp;sort=patient"' in body
    assert len(_ids(logged_in.get("/scans/", {"status": "queued", "page": 2}))) == 2


def test_the_query_count_does_not_grow_with_the_number_of_scans(logged_in, ann, bob, staff_reviewer):
    def add(count):
        for i in range(count):
            scan = PredictionFactory(scan__patient=ann if i % 2 else bob).scan
            Review.objects.create(scan=scan, reviewer=staff_reviewer, verdict="agree")

    add(2)
    url = "/scans/?result=glioma&reviewed=yes&sort=patient"
    logged_in.get(url)  # the audit trail's once-a-minute row is written here
    few = count_queries(logged_in, url)
    add(30)
    assert count_queries(logged_in, url) == few
    assert count_queries(logged_in, "/scans/") == count_queries(logged_in, "/scans/?page=2")
