"""The scan history: filters in the URL, sorting, pagination, and a query count that does not
grow with the number of scans."""

from datetime import timedelta

import pytest
from django.utils import timezone

from scans.models import Review, Scan
from tests.factories import PatientFactory, PredictionFactory, ScanFactory
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


def test_it_filters_by_label_and_model(logged_in, ann):
    glioma = PredictionFactory(scan__patient=ann, label="glioma").scan
    pituitary = PredictionFactory(scan__patient=ann, label="pituitary").scan
    PredictionFactory(scan=pituitary, model_name="xception", label="glioma")
    assert set(_ids(logged_in.get("/scans/", {"label": "glioma"}))) == {glioma.pk, pituitary.pk}
    assert _ids(logged_in.get("/scans/", {"label": "glioma", "model": "custom_cnn"})) == [glioma.pk]
    assert _ids(logged_in.get("/scans/", {"model": "xception"})) == [pituitary.pk]


def test_it_filters_by_status_and_review(logged_in, ann, staff_reviewer):
    reviewed = PredictionFactory(scan__patient=ann).scan
    open_ = PredictionFactory(scan__patient=ann).scan
    failed = ScanFactory(patient=ann, status=Scan.Status.FAILED)
    Review.objects.create(scan=reviewed, reviewer=staff_reviewer, agrees=True)
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
            Review.objects.create(scan=scan, reviewer=staff_reviewer, agrees=True)

    add(2)
    url = "/scans/?label=glioma&reviewed=yes&sort=patient"
    few = count_queries(logged_in, url)
    add(30)
    assert count_queries(logged_in, url) == few
    assert count_queries(logged_in, "/scans/") == count_queries(logged_in, "/scans/?page=2")
