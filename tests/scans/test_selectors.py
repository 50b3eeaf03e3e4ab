import pytest
from django.contrib.auth.models import AnonymousUser
from django.http import Http404

from scans import selectors
from tests.factories import PatientFactory, PredictionFactory, ReviewFactory, ScanFactory, TeamFactory, UserFactory


def test_a_user_sees_the_patients_of_every_team_they_belong_to(owner, team, outsider, other_team):
    third = TeamFactory(name="Third")
    third.members.add(owner)
    mine = {PatientFactory(team=team).pk, PatientFactory(team=third).pk}
    PatientFactory(team=other_team)
    assert set(selectors.patients_visible_to(owner).values_list("pk", flat=True)) == mine


def test_a_user_in_no_team_sees_nothing(db, team):
    PatientFactory(team=team)
    assert not selectors.patients_visible_to(UserFactory()).exists()


def test_anonymous_sees_nothing(team):
    PatientFactory(team=team)
    assert not selectors.patients_visible_to(AnonymousUser()).exists()


def test_a_superuser_outside_the_team_sees_nothing_of_it(outside_superuser, team):
    PatientFactory(team=team)
    assert not selectors.patients_visible_to(outside_superuser).exists()


def test_scan_get_is_a_404_for_another_teams_scan(outsider, team):
    scan = ScanFactory(patient=PatientFactory(team=team))
    with pytest.raises(Http404):
        selectors.scan_get(user=outsider, scan_id=scan.pk)


def test_patient_get_is_a_404_for_another_teams_patient(outsider, team):
    with pytest.raises(Http404):
        selectors.patient_get(user=outsider, patient_id=PatientFactory(team=team).pk)


def test_scans_visible_to_follows_the_patients(owner, team, other_team):
    mine = ScanFactory(patient=PatientFactory(team=team))
    ScanFactory(patient=PatientFactory(team=other_team))
    assert list(selectors.scans_visible_to(owner)) == [mine]


def test_the_review_queue_puts_the_riskiest_first(staff_reviewer, team):
    patient = PatientFactory(team=team)
    sure_no_tumour = PredictionFactory(scan__patient=patient, label="notumor", confidence=0.99).scan
    unsure_no_tumour = PredictionFactory(scan__patient=patient, label="notumor", confidence=0.7).scan
    glioma = PredictionFactory(scan__patient=patient, label="glioma", confidence=0.95).scan
    uncertain = PredictionFactory(scan__patient=patient, uncertain=True).scan
    refused = PredictionFactory(scan__patient=patient, refused=True).scan
    reviewed = PredictionFactory(scan__patient=patient, label="glioma", confidence=0.5).scan
    ReviewFactory(scan=reviewed, reviewer=staff_reviewer)
    queue = [s.pk for s in selectors.review_queue(user=staff_reviewer)]
    assert queue == [refused.pk, uncertain.pk, glioma.pk, unsure_no_tumour.pk, sure_no_tumour.pk]
    counts = selectors.review_queue_counts(user=staff_reviewer)
    assert (counts.refused, counts.uncertain, counts.tumour, counts.other, counts.total) == (1, 1, 1, 2, 5)
    assert selectors.review_queue_next(user=staff_reviewer, after=refused) == uncertain


def test_the_review_queue_holds_only_the_users_teams(outsider, team):
    PredictionFactory(scan__patient=PatientFactory(team=team))
    assert not selectors.review_queue(user=outsider).exists()


def test_the_history_chart_makes_one_point_per_exam_and_final_result(team, staff_reviewer):
    from datetime import date

    patient = PatientFactory(team=team)
    slices = [
        PredictionFactory(scan__patient=patient, scan__acquisition_date=date(2024, 1, 5), label="glioma").scan
        for _ in range(2)
    ]
    corrected = PredictionFactory(
        scan__patient=patient, scan__acquisition_date=date(2024, 7, 1), label="meningioma"
    ).scan
    ReviewFactory(scan=corrected, reviewer=staff_reviewer, verdict="corrected", corrected_label="glioma")
    undated = PredictionFactory(scan__patient=patient, label="notumor", confidence=0.9).scan
    PredictionFactory(scan__patient=patient, refused=True)
    chart = selectors.patient_chart_points(patient=patient)
    assert [(p["x"][:10], p["dated"], p["result"], p["changed"]) for p in chart.points] == [
        ("2024-01-05", True, "glioma", False),
        ("2024-07-01", True, "glioma", True),
        (undated.created_at.date().isoformat(), False, "notumor", False),
    ]
    assert chart.points[0]["scans"] == [s.pk for s in slices]
    # The corrected exam sits at the model's probability for the reviewer's class.
    assert chart.points[1]["y"] == 0.1
    assert chart.unplotted == 1
