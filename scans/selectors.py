"""Reads. `patients_visible_to` is the one place that decides who may see what."""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.core.exceptions import ValidationError
from django.db.models import Count, Exists, Max, OuterRef, Prefetch, Q, QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils import timezone

from accounts.models import Team, User
from scans.ml import registry
from scans.ml.classes import CLASS_NAMES
from scans.ml.errors import WeightsError
from scans.models import Patient, Prediction, Review, Scan
from scans.services import MODEL_CHOICES, models_resolve


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


# Pages ----------------------------------------------------------------------------------

PENDING = (Scan.Status.QUEUED, Scan.Status.PROCESSING, Scan.Status.CLASSIFIED)
SCAN_SORTS = {
    "newest": ("-created_at", "-pk"),
    "oldest": ("created_at", "pk"),
    "patient": ("patient__display_name", "-created_at", "-pk"),
    "status": ("status", "-created_at", "-pk"),
    "acquired": ("-acquisition_date", "-created_at", "-pk"),
}


def scans_with_list_data(scans: QuerySet[Scan]) -> QuerySet[Scan]:
    """What every list of scans shows: patient, predictions and whether anyone reviewed it,
    in a constant number of queries whatever the number of scans."""
    return (
        scans.select_related("patient")
        .prefetch_related(Prefetch("predictions", queryset=Prediction.objects.order_by("model_name")))
        .annotate(is_reviewed=Exists(Review.objects.filter(scan=OuterRef("pk"))))
    )


def patients_search(*, user: User, query: str = "") -> QuerySet[Patient]:
    """Visible patients matching an MRN or name fragment, with their scan count and last scan."""
    patients = patients_visible_to(user)
    if query:
        patients = patients.filter(Q(medical_record_number__icontains=query) | Q(display_name__icontains=query))
    return patients.annotate(scan_count=Count("scans"), last_scan_at=Max("scans__created_at")).order_by(
        "display_name", "pk"
    )


def patient_timeline(*, patient: Patient) -> QuerySet[Scan]:
    """A patient's scans, newest first, with predictions and review state."""
    return scans_with_list_data(patient.scans.all()).order_by("-created_at", "-pk")


def patient_chart_points(*, patient: Patient) -> list[dict]:
    """One point per prediction, oldest first: when, which model, which class, how sure."""
    rows = (
        Prediction.objects.filter(scan__patient=patient)
        .order_by("scan__created_at", "scan_id", "model_name")
        .values("scan_id", "scan__created_at", "scan__acquisition_date", "model_name", "label", "confidence")
    )
    return [
        {
            "scan": row["scan_id"],
            "date": (row["scan__acquisition_date"] or row["scan__created_at"].date()).isoformat(),
            "model": row["model_name"],
            "label": row["label"],
            "confidence": round(row["confidence"], 4),
        }
        for row in rows
    ]


def scans_search(
    *,
    user: User,
    patient_id: int | None = None,
    label: str = "",
    model: str = "",
    status: str = "",
    reviewed: bool | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
    sort: str = "newest",
) -> QuerySet[Scan]:
    """The scan history page: visible scans narrowed by every filter given."""
    scans = scans_visible_to(user)
    if patient_id is not None:
        scans = scans.filter(patient_id=patient_id)
    if status:
        scans = scans.filter(status=status)
    if label or model:
        matching = Prediction.objects.filter(scan=OuterRef("pk"))
        if label:
            matching = matching.filter(label=label)
        if model:
            matching = matching.filter(model_name=model)
        scans = scans.filter(Exists(matching))
    # A range of datetimes, not created_at__date: the index on created_at stays usable.
    if date_from:
        scans = scans.filter(created_at__gte=_day_start(date_from))
    if date_to:
        scans = scans.filter(created_at__lt=_day_start(date_to + timedelta(days=1)))
    scans = scans_with_list_data(scans)
    if reviewed is not None:
        scans = scans.filter(is_reviewed=reviewed)
    return scans.order_by(*SCAN_SORTS.get(sort, SCAN_SORTS["newest"]))


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


@dataclass(frozen=True)
class Dashboard:
    recent: list[Scan]
    by_status: dict[str, int]
    by_label: dict[str, int]
    awaiting_review: list[Scan]
    awaiting_review_count: int
    failed: list[Scan]


def dashboard_for(*, user: User, recent: int = 8) -> Dashboard:
    scans = scans_visible_to(user)
    by_status = dict(scans.order_by().values_list("status").annotate(n=Count("pk")))
    by_label = dict(Prediction.objects.filter(scan__in=scans).order_by().values_list("label").annotate(n=Count("pk")))
    unreviewed = scans_with_list_data(scans.filter(status=Scan.Status.DONE)).filter(is_reviewed=False)
    return Dashboard(
        recent=list(scans_with_list_data(scans).order_by("-created_at", "-pk")[:recent]),
        by_status={value: by_status.get(value, 0) for value in Scan.Status.values},
        by_label={name: by_label[name] for name in CLASS_NAMES if name in by_label},
        awaiting_review=list(unreviewed.order_by("created_at", "pk")[:recent]),
        awaiting_review_count=unreviewed.count(),
        failed=list(
            scans.filter(status=Scan.Status.FAILED).select_related("patient").order_by("-finished_at")[:recent]
        ),
    )


@dataclass(frozen=True)
class ModelOption:
    value: str
    label: str
    available: bool
    reason: str


def model_options() -> list[ModelOption]:
    """The model choices of the upload page, each with why it cannot run when it cannot.

    The rule and its wording are the API's (services.models_resolve), so both agree.
    """
    options = []
    for value in MODEL_CHOICES:
        label = " + ".join(registry.ARCHITECTURE_FACTS[name].display_name for name in MODEL_CHOICES[value])
        try:
            models_resolve(choice=value)
            options.append(ModelOption(value, label, True, ""))
        except ValidationError as error:
            options.append(ModelOption(value, label, False, " ".join(error.messages)))
    return options


def model_card(*, name: str) -> dict | None:
    """The model's card as written by training, or None when the model is not installed;
    an unknown name is a 404. Read from JSON: the web process never loads TensorFlow."""
    if name not in registry.MODEL_NAMES:
        raise Http404
    try:
        return registry.read_card(name)
    except WeightsError:
        return None
