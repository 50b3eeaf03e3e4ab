"""Reads. `patients_visible_to` is the one place that decides who may see what."""

from django.core.exceptions import ValidationError
from django.db.models import Prefetch, QuerySet
from django.shortcuts import get_object_or_404

from accounts.models import Team, User
from scans.models import Patient, Prediction, Scan


def teams_of(user: User) -> QuerySet[Team]:
    if not user.is_authenticated:
        return Team.objects.none()
    return Team.objects.filter(members=user)


def patients_visible_to(user: User) -> QuerySet[Patient]:
    """A user sees the patients of their own teams, and nothing else.

    Staff flags and roles grant no extra visibility: another team's patient is invisible to
    everyone who is not in that team, and looks exactly like one that does not exist.
    """
    return Patient.objects.filter(team__in=teams_of(user))


def scans_visible_to(user: User) -> QuerySet[Scan]:
    return Scan.objects.filter(patient__in=patients_visible_to(user))


def patient_get(*, user: User, patient_id: int) -> Patient:
    """The patient, or 404 when it does not exist or belongs to another team."""
    return get_object_or_404(patients_visible_to(user), pk=patient_id)


def scan_get(*, user: User, scan_id: int) -> Scan:
    """The scan with its predictions and explanation, or 404 when the user may not see it."""
    queryset = (
        scans_visible_to(user)
        .select_related("patient", "explanation")
        .prefetch_related(Prefetch("predictions", queryset=Prediction.objects.order_by("model_name")))
    )
    return get_object_or_404(queryset, pk=scan_id)


def patient_scans(*, patient: Patient) -> QuerySet[Scan]:
    """A patient's scans, newest first, with what their list views show."""
    return patient.scans.select_related("explanation").prefetch_related("predictions").order_by("-created_at", "-pk")


def team_for_new_patient(*, user: User, team_id: int | None) -> Team:
    """The team a new patient goes into: the one named, or the user's only team."""
    teams = teams_of(user)
    if team_id is not None:
        team = teams.filter(pk=team_id).first()
        if team is None:
            raise ValidationError({"team": "Unknown team, or you are not one of its members."})
        return team
    only = list(teams[:2])
    if len(only) != 1:
        raise ValidationError({"team": "Say which team: you are in several teams, or in none."})
    return only[0]
