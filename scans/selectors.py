"""Reads. `patients_visible_to` is the one place that decides who may see what."""

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.core.exceptions import ValidationError
from django.db.models import Count, Exists, Max, OuterRef, Prefetch, Q, QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils import timezone

from accounts.models import Team, User
from scans.duplicates import with_earlier_copy
from scans.final_result import RESULT_KEYS, TUMOUR_CLASSES, final_result_of, risk_rank, with_final_result
from scans.ml import registry
from scans.ml.classes import CLASS_NAMES
from scans.ml.errors import WeightsError
from scans.models import Outcome, Patient, Prediction, Review, Scan
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
    """The scan with its predictions, explanation, reviews (newest first) and final result,
    or 404 when the user may not see it."""
    queryset = with_final_result(
        scans_visible_to(user)
        .select_related("patient", "explanation", "assigned_to")
        .prefetch_related(
            Prefetch("predictions", queryset=Prediction.objects.order_by("model_name")),
            Prefetch("reviews", queryset=Review.objects.select_related("reviewer").order_by("-created_at", "-pk")),
        )
    )
    return get_object_or_404(queryset, pk=scan_id)


def patient_scans(*, patient: Patient) -> QuerySet[Scan]:
    """A patient's scans, newest first, with what their list views show."""
    return with_earlier_copy(
        with_final_result(
            patient.scans.select_related("explanation", "assigned_to")
            .prefetch_related("predictions")
            .order_by("-created_at", "-pk")
        )
    )


def scan_reviews(*, scan: Scan) -> QuerySet[Review]:
    """A scan's reviews, newest first: the first is the one in force, the others its history."""
    return scan.reviews.select_related("reviewer").order_by("-created_at", "-pk")


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
    """What every list of scans shows: patient, predictions, whether anyone reviewed it and
    the final result, in a constant number of queries whatever the number of scans."""
    return with_final_result(
        scans.select_related("patient", "assigned_to")
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


# Slices of one undated exam are uploaded together: a pause longer than this starts a new one.
UPLOAD_BATCH_GAP = timedelta(minutes=15)
# Results without a class on the chart's scale: listed in the timeline, not plotted.
UNPLOTTED = (
    Outcome.REFUSED,
    Review.Verdict.NOT_BRAIN_MRI,
    Review.Verdict.NON_DIAGNOSTIC,
    Review.Verdict.OTHER_PATHOLOGY,
)


@dataclass(frozen=True)
class HistoryChart:
    points: list[dict] = field(default_factory=list)
    unplotted: int = 0


def patient_chart_points(*, patient: Patient) -> HistoryChart:
    """The case-history chart: one point per exam and final result, oldest first.

    An exam is the slices with one acquisition date, or — undated — one upload batch, placed
    at its upload time and flagged `dated: false` so the chart draws it differently. The
    height is the model's probability for the final class (for an uncertain result, for its
    best guess): a corrected result shows how little the model gave the right class.
    """
    scans = list(
        with_final_result(patient.scans.filter(status=Scan.Status.DONE))
        .prefetch_related(Prefetch("predictions", queryset=Prediction.objects.order_by("model_name")))
        .order_by("created_at", "pk")
    )
    exams: dict[tuple, list[Scan]] = {}
    batch_start, previous = None, None
    for scan in scans:
        if scan.acquisition_date:
            key = ("dated", scan.acquisition_date.isoformat())
        else:
            if previous is None or scan.created_at - previous > UPLOAD_BATCH_GAP:
                batch_start = scan.created_at
            previous = scan.created_at
            key = ("undated", batch_start.isoformat())
        exams.setdefault(key, []).append(scan)

    points, unplotted = [], 0
    for (kind, when), members in exams.items():
        by_result: dict[str, list[Scan]] = {}
        for scan in members:
            result = final_result_of(scan)
            if result is None or result.key in UNPLOTTED:
                unplotted += 1
                continue
            by_result.setdefault(result.key, []).append(scan)
        for key, group in by_result.items():
            points.append(
                {
                    "x": when,
                    "dated": kind == "dated",
                    "result": key,
                    "y": round(max(_probability_for(scan, key) for scan in group), 4),
                    "scans": [scan.pk for scan in group],
                    "changed": any(final_result_of(scan).changed for scan in group),
                }
            )
    points.sort(key=lambda p: (p["x"], p["result"]))
    return HistoryChart(points=points, unplotted=unplotted)


def _probability_for(scan: Scan, key: str) -> float:
    predictions = list(scan.predictions.all())
    if not predictions:
        return 0.0
    primary = predictions[0]
    if key in CLASS_NAMES:
        return primary.probabilities.get(key, 0.0)
    return primary.confidence


def scans_search(
    *,
    user: User,
    patient_id: int | None = None,
    result: str = "",
    model: str = "",
    status: str = "",
    reviewed: str = "",
    date_from: date | None = None,
    date_to: date | None = None,
    sort: str = "newest",
) -> QuerySet[Scan]:
    """The scan history page: visible scans narrowed by every filter given.

    `result` is the final result (a class, uncertain, refused or a reviewer's verdict);
    `reviewed` is "yes", "no", or "changed" (the reviewer's result differs from the model's).
    """
    scans = scans_visible_to(user)
    if patient_id is not None:
        scans = scans.filter(patient_id=patient_id)
    if status:
        scans = scans.filter(status=status)
    if model:
        scans = scans.filter(Exists(Prediction.objects.filter(scan=OuterRef("pk"), model_name=model)))
    # A range of datetimes, not created_at__date: the index on created_at stays usable.
    if date_from:
        scans = scans.filter(created_at__gte=_day_start(date_from))
    if date_to and date_to < date.max:  # date.max + 1 day overflows; nothing lies beyond it
        scans = scans.filter(created_at__lt=_day_start(date_to + timedelta(days=1)))
    scans = scans_with_list_data(scans)
    if result in RESULT_KEYS:
        scans = scans.filter(final_key=result)
    if reviewed in ("yes", "no"):
        scans = scans.filter(is_reviewed=reviewed == "yes")
    elif reviewed == "changed":
        scans = scans.filter(final_changed=True)
    return scans.order_by(*SCAN_SORTS.get(sort, SCAN_SORTS["newest"]))


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


# The review queue's views: everything waiting, what is assigned to the reader, what nobody has.
QUEUE_VIEWS = {"": "All waiting", "mine": "Assigned to me", "unassigned": "Not assigned"}


def _queue_view(view: str, user: User) -> Q:
    """The condition of one of QUEUE_VIEWS; an unknown view is everything (an empty Q)."""
    if view == "mine":
        return Q(assigned_to=user)
    if view == "unassigned":
        return Q(assigned_to__isnull=True)
    return Q()


def _waiting_for_review(user: User) -> QuerySet[Scan]:
    """Finished scans of the user's teams that nobody has reviewed."""
    return (
        scans_visible_to(user)
        .filter(status=Scan.Status.DONE)
        .exclude(Exists(Review.objects.filter(scan=OuterRef("pk"))))
    )


def review_queue(*, user: User, view: str = "") -> QuerySet[Scan]:
    """Finished, unreviewed scans of the user's teams, riskiest first: refused and uncertain,
    then tumour-positive, then the rest; within a group the least sure, then the oldest.
    `view` is one of QUEUE_VIEWS; an unknown one shows everything."""
    waiting = scans_with_list_data(_waiting_for_review(user).filter(_queue_view(view, user)))
    return waiting.annotate(risk=risk_rank()).order_by("risk", "fr_model_confidence", "created_at", "pk")


@dataclass(frozen=True)
class QueueCounts:
    refused: int
    uncertain: int
    tumour: int
    other: int

    @property
    def total(self) -> int:
        return self.refused + self.uncertain + self.tumour + self.other


@dataclass(frozen=True)
class ResultGroup:
    key: str
    changed: bool
    reviewed: bool
    status: str
    count: int


def _result_groups(scans: QuerySet[Scan]) -> list[ResultGroup]:
    """Scans counted by final result, review and status in one pass: each row's result is
    worked out once, not once per count."""
    rows = (
        with_final_result(scans)
        .annotate(is_reviewed=Exists(Review.objects.filter(scan=OuterRef("pk"))))
        .order_by()
        .values_list("final_key", "final_changed", "is_reviewed", "status")
        .annotate(n=Count("pk"))
    )
    return [
        ResultGroup(key or "", bool(changed), bool(reviewed), status, n) for key, changed, reviewed, status, n in rows
    ]


def _queue_counts(groups: list[ResultGroup]) -> QueueCounts:
    waiting = [g for g in groups if g.status == Scan.Status.DONE and not g.reviewed]
    return QueueCounts(
        refused=sum(g.count for g in waiting if g.key == Outcome.REFUSED),
        uncertain=sum(g.count for g in waiting if g.key == Outcome.UNCERTAIN),
        tumour=sum(g.count for g in waiting if g.key in TUMOUR_CLASSES),
        other=sum(g.count for g in waiting if g.key not in (Outcome.REFUSED, Outcome.UNCERTAIN, *TUMOUR_CLASSES)),
    )


def review_queue_counts(*, user: User) -> QueueCounts:
    return _queue_counts(_result_groups(scans_visible_to(user).filter(status=Scan.Status.DONE)))


def reviewers_for(*, scan: Scan) -> QuerySet[User]:
    """The active reviewers who may be given `scan`: those of its patient's team."""
    return User.objects.filter(teams=scan.patient.team_id, role=User.Role.REVIEWER, is_active=True).order_by("username")


def review_queue_next(*, user: User, after: Scan) -> Scan | None:
    """The riskiest scan still waiting for this reviewer, other than the one just reviewed:
    one assigned to them first, then one nobody has; never one assigned to someone else."""
    for view in ("mine", "unassigned"):
        scan = review_queue(user=user, view=view).exclude(pk=after.pk).first()
        if scan is not None:
            return scan
    return None


def review_queue_assignments(*, user: User) -> dict[str, int]:
    """How many waiting scans each of QUEUE_VIEWS holds for `user`, in one query."""
    counts = _waiting_for_review(user).aggregate(
        **{f"view_{key}": Count("pk", filter=_queue_view(key, user) or None) for key in QUEUE_VIEWS}
    )
    return {key: counts[f"view_{key}"] for key in QUEUE_VIEWS}


@dataclass(frozen=True)
class Dashboard:
    recent: list[Scan]
    by_status: dict[str, int]
    by_result: dict[str, int]
    changed_by_review: int
    queue: list[Scan]
    queue_counts: QueueCounts
    failed: list[Scan]


def dashboard_for(*, user: User, recent: int = 8) -> Dashboard:
    scans = scans_visible_to(user)
    groups = _result_groups(scans)
    by_status: dict[str, int] = {}
    by_result: dict[str, int] = {}
    for group in groups:
        by_status[group.status] = by_status.get(group.status, 0) + group.count
        if group.key:
            by_result[group.key] = by_result.get(group.key, 0) + group.count
    return Dashboard(
        recent=list(scans_with_list_data(scans).order_by("-created_at", "-pk")[:recent]),
        by_status={value: by_status.get(value, 0) for value in Scan.Status.values},
        by_result={key: by_result[key] for key in RESULT_KEYS if key in by_result},
        changed_by_review=sum(g.count for g in groups if g.changed and g.reviewed),
        queue=list(review_queue(user=user)[:5]),
        queue_counts=_queue_counts(groups),
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
