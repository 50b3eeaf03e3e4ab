"""Assigning a scan to one reviewer: who may assign, to whom, and what the queue then shows."""

import pytest
from django.core.exceptions import ValidationError

from accounts.models import User
from audit.models import AuditEvent
from scans.models import Scan
from scans.selectors import review_queue, review_queue_assignments, review_queue_next
from scans.services import scan_assign
from tests.factories import PatientFactory, PredictionFactory, ReviewFactory, ScanFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def patient(team, owner):
    return PatientFactory(team=team, created_by=owner)


@pytest.fixture
def colleague(team):
    return UserFactory(username="second-reader", role=User.Role.REVIEWER, is_staff=True, teams=[team])


def test_a_reviewer_takes_a_scan_and_gives_it_back(patient, staff_reviewer):
    scan = PredictionFactory(scan__patient=patient).scan
    scan_assign(scan=scan, assignee=staff_reviewer, by=staff_reviewer)
    scan.refresh_from_db()
    assert scan.assigned_to == staff_reviewer and scan.assigned_at is not None
    scan_assign(scan=scan, assignee=None, by=staff_reviewer)
    scan.refresh_from_db()
    assert (scan.assigned_to, scan.assigned_at) == (None, None)


def test_only_reviewers_assign(patient, owner, staff_reviewer):
    scan = PredictionFactory(scan__patient=patient).scan
    with pytest.raises(ValidationError, match="Only staff reviewers"):
        scan_assign(scan=scan, assignee=staff_reviewer, by=owner)


def test_a_scan_goes_only_to_an_active_reviewer_of_its_team(patient, staff_reviewer, owner, other_team, colleague):
    scan = PredictionFactory(scan__patient=patient).scan
    stranger = UserFactory(username="other-reviewer", role=User.Role.REVIEWER, teams=[other_team])
    with pytest.raises(ValidationError, match="not in this patient's team"):
        scan_assign(scan=scan, assignee=stranger, by=staff_reviewer)
    with pytest.raises(ValidationError, match="not an active staff reviewer"):
        scan_assign(scan=scan, assignee=owner, by=staff_reviewer)
    colleague.is_active = False
    colleague.save()
    with pytest.raises(ValidationError, match="not an active staff reviewer"):
        scan_assign(scan=scan, assignee=colleague, by=staff_reviewer)
    scan.refresh_from_db()
    assert scan.assigned_to is None


def test_an_unfinished_scan_cannot_be_assigned(patient, staff_reviewer):
    scan = ScanFactory(patient=patient, status=Scan.Status.QUEUED)
    with pytest.raises(ValidationError, match="finished"):
        scan_assign(scan=scan, assignee=staff_reviewer, by=staff_reviewer)


def test_the_queue_views_and_next_in_queue_respect_assignments(patient, staff_reviewer, colleague):
    riskiest = PredictionFactory(scan__patient=patient, refused=True).scan
    theirs = PredictionFactory(scan__patient=patient, uncertain=True).scan
    mine = PredictionFactory(scan__patient=patient, label="notumor", confidence=0.99).scan
    free = PredictionFactory(scan__patient=patient, label="glioma", confidence=0.9).scan
    ReviewFactory(scan=PredictionFactory(scan__patient=patient).scan, reviewer=staff_reviewer)
    scan_assign(scan=theirs, assignee=colleague, by=staff_reviewer)
    scan_assign(scan=mine, assignee=staff_reviewer, by=staff_reviewer)

    def pks(view):
        return [s.pk for s in review_queue(user=staff_reviewer, view=view)]

    assert pks("") == [riskiest.pk, theirs.pk, free.pk, mine.pk]
    assert pks("mine") == [mine.pk]
    assert pks("unassigned") == [riskiest.pk, free.pk]
    assert review_queue_assignments(user=staff_reviewer) == {"": 4, "mine": 1, "unassigned": 2}
    # Mine first, then one nobody has; never the colleague's.
    assert review_queue_next(user=staff_reviewer, after=riskiest) == mine
    assert review_queue_next(user=staff_reviewer, after=mine) == riskiest
    assert review_queue_next(user=colleague, after=riskiest) == theirs
    scan_assign(scan=riskiest, assignee=colleague, by=staff_reviewer)
    scan_assign(scan=free, assignee=colleague, by=staff_reviewer)
    assert review_queue_next(user=staff_reviewer, after=mine) is None


def test_the_scan_page_assigns_to_me_and_audits_it(client, patient, staff_reviewer, colleague):
    scan = PredictionFactory(scan__patient=patient).scan
    client.force_login(staff_reviewer)
    page = client.get(f"/scans/{scan.pk}/").content.decode()
    assert "Not assigned: anyone in the team may take it" in page
    assert ">Assign to me</button>" in page
    assert "second-reader" in page  # the team's reviewers are the choices

    response = client.post(f"/scans/{scan.pk}/assign/", {"assignee": staff_reviewer.pk}, follow=True)
    assert response.redirect_chain[-1][0] == f"/scans/{scan.pk}/"
    page = response.content.decode()
    assert f"Scan {scan.pk} is assigned to you." in page
    assert "<strong>Assigned to you</strong>" in page
    assert AuditEvent.objects.filter(action="assign", object_id=str(scan.pk), actor=staff_reviewer).count() == 1

    response = client.post(f"/scans/{scan.pk}/assign/", {"assignee": ""}, follow=True)
    assert f"Scan {scan.pk} is back in the shared queue." in response.content.decode()


def test_a_bad_assignee_gets_an_error_on_the_page_and_changes_nothing(client, patient, staff_reviewer, owner):
    scan = PredictionFactory(scan__patient=patient).scan
    client.force_login(staff_reviewer)
    for value in (owner.pk, "not-a-number", 999999):
        response = client.post(f"/scans/{scan.pk}/assign/", {"assignee": value})
        assert response.status_code == 400
        assert "Choose a reviewer of this patient&#x27;s team, or nobody." in response.content.decode()
    scan.refresh_from_db()
    assert scan.assigned_to is None
    assert not AuditEvent.objects.filter(action="assign").exists()


def test_clinicians_cannot_assign_and_see_no_form(client, patient, owner, staff_reviewer):
    scan = PredictionFactory(scan__patient=patient).scan
    client.force_login(owner)
    assert "Assign to me" not in client.get(f"/scans/{scan.pk}/").content.decode()
    assert client.post(f"/scans/{scan.pk}/assign/", {"assignee": staff_reviewer.pk}).status_code == 403
    scan.refresh_from_db()
    assert scan.assigned_to is None


def test_another_teams_scan_cannot_be_assigned(client, patient, other_team):
    scan = PredictionFactory(scan__patient=patient).scan
    stranger = UserFactory(username="elsewhere", role=User.Role.REVIEWER, teams=[other_team])
    client.force_login(stranger)
    assert client.post(f"/scans/{scan.pk}/assign/", {"assignee": stranger.pk}).status_code == 404


def test_the_queue_page_has_its_views_and_says_who_has_each_scan(client, patient, staff_reviewer, colleague):
    mine = PredictionFactory(scan__patient=patient, label="glioma").scan
    theirs = PredictionFactory(scan__patient=patient, label="pituitary").scan
    scan_assign(scan=mine, assignee=staff_reviewer, by=staff_reviewer)
    scan_assign(scan=theirs, assignee=colleague, by=staff_reviewer)
    client.force_login(staff_reviewer)
    body = client.get("/review/").content.decode()
    assert "assigned to you" in body and "assigned to second-reader" in body
    assert 'href="?view=mine">Assigned to me <span class="count">1</span>' in body
    response = client.get("/review/?view=mine")
    assert [s.pk for s in response.context["page"].object_list] == [mine.pk]
    assert client.get("/review/?view=nonsense").context["view"] == ""


def test_the_api_says_who_the_scan_is_assigned_to(patient, owner, staff_reviewer):
    from tests.conftest import token_client

    scan = PredictionFactory(scan__patient=patient).scan
    api = token_client(owner)
    assert api.get(f"/api/v1/scans/{scan.pk}/").json()["assigned_to"] is None
    scan_assign(scan=scan, assignee=staff_reviewer, by=staff_reviewer)
    assert api.get(f"/api/v1/scans/{scan.pk}/").json()["assigned_to"] == staff_reviewer.username


def test_a_colleague_given_a_scan_is_notified_and_taking_one_yourself_is_not(patient, staff_reviewer, colleague):
    from notifications.models import Notification

    scan = PredictionFactory(scan__patient=patient).scan
    scan_assign(scan=scan, assignee=staff_reviewer, by=staff_reviewer)
    assert not Notification.objects.exists()
    scan_assign(scan=scan, assignee=colleague, by=staff_reviewer)
    notification = Notification.objects.get()
    assert notification.recipient == colleague and notification.link == f"/scans/{scan.pk}/"
    assert notification.message == f"{staff_reviewer.username} assigned scan {scan.pk} to you for review."


def test_the_api_assigns_by_username_and_refuses_what_the_page_refuses(patient, owner, staff_reviewer, colleague):
    from tests.conftest import token_client

    scan = PredictionFactory(scan__patient=patient).scan
    api = token_client(staff_reviewer)
    url = f"/api/v1/scans/{scan.pk}/assignment/"
    response = api.post(url, {"assignee": "second-reader"}, format="json")
    assert response.status_code == 200 and response.json()["assigned_to"] == "second-reader"
    assert AuditEvent.objects.filter(action="assign", object_id=str(scan.pk)).count() == 1

    for wrong in (owner.username, "nobody-here"):
        response = api.post(url, {"assignee": wrong}, format="json")
        assert response.status_code == 400
        assert "is not an active reviewer of this patient's team" in str(response.json())
    assert api.post(url, {}, format="json").status_code == 400
    scan.refresh_from_db()
    assert scan.assigned_to == colleague

    response = api.post(url, {"assignee": None}, format="json")
    assert response.status_code == 200 and response.json()["assigned_to"] is None
    assert token_client(owner).post(url, {"assignee": None}, format="json").status_code == 403
    queued = ScanFactory(patient=patient, status=Scan.Status.QUEUED)
    response = api.post(f"/api/v1/scans/{queued.pk}/assignment/", {"assignee": None}, format="json")
    assert response.status_code == 400 and "finished" in str(response.json())
