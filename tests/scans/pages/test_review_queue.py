"""The review queue: the reviewer's teams' unreviewed results, riskiest first, with counts;
reviewers only."""

import pytest

from tests.factories import PatientFactory, PredictionFactory, ReviewFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def patient(team, owner):
    return PatientFactory(team=team, created_by=owner, display_name="Queue Patient")


def test_a_reviewer_sees_the_riskiest_first_with_counts(client, staff_reviewer, patient):
    calm = PredictionFactory(scan__patient=patient, label="notumor", confidence=0.98).scan
    glioma = PredictionFactory(scan__patient=patient, label="glioma", confidence=0.9).scan
    uncertain = PredictionFactory(scan__patient=patient, uncertain=True).scan
    ReviewFactory(scan=PredictionFactory(scan__patient=patient).scan, reviewer=staff_reviewer)
    client.force_login(staff_reviewer)
    response = client.get("/review/")
    assert [s.pk for s in response.context["page"].object_list] == [uncertain.pk, glioma.pk, calm.pk]
    body = response.content.decode()
    assert "<strong>3 in all</strong>" in body
    assert '<span class="label label-uncertain">Uncertain</span> 1' in body
    assert 'href="/review/" aria-current="page">Review queue</a>' in body


def test_clinicians_get_a_403_and_no_link(client, owner, patient):
    client.force_login(owner)
    assert client.get("/review/").status_code == 403
    assert 'href="/review/"' not in client.get("/").content.decode()


def test_anonymous_visitors_are_sent_to_log_in(client, db):
    response = client.get("/review/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_another_teams_scans_are_not_in_my_queue(client, patient, other_team):
    from accounts.models import User
    from tests.factories import UserFactory

    PredictionFactory(scan__patient=patient, refused=True)
    stranger = UserFactory(username="elsewhere", role=User.Role.REVIEWER, is_staff=True, teams=[other_team])
    client.force_login(stranger)
    assert list(client.get("/review/").context["page"].object_list) == []
