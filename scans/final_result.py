"""The one final result of a scan: the latest review's verdict when there is one, else what the
model said. Derived in SQL (so lists can filter, count and sort by it) and read back into a
`FinalResult` for pages and the API; nothing is copied into columns that could drift."""

from dataclasses import dataclass
from datetime import datetime

from django.db.models import (
    BooleanField,
    Case,
    CharField,
    Count,
    F,
    FloatField,
    IntegerField,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)

from scans.ml.classes import CLASS_NAMES
from scans.models import Outcome, Prediction, Review, Scan

Verdict = Review.Verdict
TUMOUR_CLASSES = tuple(name for name in CLASS_NAMES if name != "notumor")

# Every value a final result can take: a class, the model's abstention or refusal, or a
# reviewer's verdict that is not a class. "" while there is no result yet.
RESULT_KEYS = (
    *CLASS_NAMES,
    Outcome.UNCERTAIN.value,
    Outcome.REFUSED.value,
    Verdict.NOT_BRAIN_MRI.value,
    Verdict.NON_DIAGNOSTIC.value,
    Verdict.OTHER_PATHOLOGY.value,
)


@dataclass(frozen=True)
class FinalResult:
    key: str
    source: str  # "review" or "model"
    verdict: str  # the review's verdict, or the model's outcome
    label: str | None  # a class, or None when the result is not one
    model_outcome: str
    model_label: str | None  # the model's class, only when it called one
    model_confidence: float | None
    reviewed_by: str | None
    reviewed_at: datetime | None
    changed: bool  # a reviewer's result that differs from the model's

    @property
    def model_key(self) -> str:
        return self.model_label if self.model_outcome == Outcome.CLASSIFIED else self.model_outcome

    @property
    def confidence(self) -> float | None:
        """The model's certainty, shown only when the final class is the one the model called."""
        return self.model_confidence if self.label and self.label == self.model_label else None


def with_final_result(scans: QuerySet[Scan]) -> QuerySet[Scan]:
    """`scans` annotated with everything `final_result_of` reads, in subqueries (one query).

    Filters, counts and sorting use `final_key` and `final_changed`; each is built from two
    subqueries (the latest review's key, the model's key) so a list of thousands stays fast.
    """
    latest_review = Review.objects.filter(scan=OuterRef("pk")).order_by("-created_at", "-pk")
    review_key = latest_review.annotate(
        key=Case(
            When(verdict=Verdict.CORRECTED, then=F("corrected_label")), default=F("verdict"), output_field=CharField()
        )
    ).values("key")[:1]
    # With two models a scan is classified only when both call the same class.
    model_key = (
        Prediction.objects.filter(scan=OuterRef("pk"))
        .order_by()
        .values("scan")
        .annotate(
            n_refused=Count("pk", filter=Q(outcome=Outcome.REFUSED)),
            n_uncertain=Count("pk", filter=Q(outcome=Outcome.UNCERTAIN)),
            n_labels=Count("label", distinct=True),
            any_label=Min("label"),
        )
        .annotate(
            key=Case(
                When(n_refused__gt=0, then=Value(Outcome.REFUSED.value)),
                When(Q(n_uncertain__gt=0) | Q(n_labels__gt=1), then=Value(Outcome.UNCERTAIN.value)),
                default=F("any_label"),
                output_field=CharField(),
            )
        )
        .values("key")
    )
    primary = Prediction.objects.filter(scan=OuterRef("pk")).order_by("model_name")
    scans = scans.annotate(
        fr_review_key=Subquery(review_key, output_field=CharField()),
        fr_model_key=Subquery(model_key, output_field=CharField()),
        fr_review_verdict=Subquery(latest_review.values("verdict")[:1], output_field=CharField()),
        fr_reviewed_by=Subquery(latest_review.values("reviewer__username")[:1], output_field=CharField()),
        fr_reviewed_at=Subquery(latest_review.values("created_at")[:1]),
        fr_model_confidence=Subquery(primary.values("confidence")[:1], output_field=FloatField()),
    )
    return scans.annotate(
        final_key=Case(
            When(Q(fr_review_key__isnull=True) | Q(fr_review_key=Verdict.AGREE), then=F("fr_model_key")),
            default=F("fr_review_key"),
            output_field=CharField(),
        ),
        final_changed=Case(
            When(Q(fr_review_key__isnull=True) | Q(fr_review_key=Verdict.AGREE), then=Value(False)),
            # Confirming a refusal is agreeing with the model.
            When(Q(fr_review_key=Verdict.NOT_BRAIN_MRI) & Q(fr_model_key=Outcome.REFUSED), then=Value(False)),
            default=Value(True),
            output_field=BooleanField(),
        ),
    )


def final_result_of(scan: Scan) -> FinalResult | None:
    """The scan's final result, from a queryset that went through `with_final_result`;
    None while the scan has neither a prediction nor a review."""
    try:
        key = scan.final_key
    except AttributeError:
        raise TypeError("final_result_of needs a scan annotated by with_final_result") from None
    if not key:
        return None
    reviewed = scan.fr_review_verdict is not None
    model_key = scan.fr_model_key or ""
    model_outcome = model_key if model_key in (Outcome.REFUSED, Outcome.UNCERTAIN) else Outcome.CLASSIFIED.value
    if not model_key:
        model_outcome = ""
    return FinalResult(
        key=key,
        source="review" if reviewed else "model",
        verdict=scan.fr_review_verdict if reviewed else model_outcome,
        label=key if key in CLASS_NAMES else None,
        model_outcome=model_outcome,
        model_label=model_key if model_outcome == Outcome.CLASSIFIED else None,
        model_confidence=scan.fr_model_confidence,
        reviewed_by=scan.fr_reviewed_by,
        reviewed_at=scan.fr_reviewed_at,
        changed=bool(scan.final_changed),
    )


def risk_rank() -> Case:
    """The review queue's order: refused and uncertain first, then tumour-positive, then the
    rest (each group least sure first, see selectors.review_queue)."""
    return Case(
        When(final_key=Outcome.REFUSED, then=Value(0)),
        When(final_key=Outcome.UNCERTAIN, then=Value(1)),
        When(final_key__in=TUMOUR_CLASSES, then=Value(2)),
        default=Value(3),
        output_field=IntegerField(),
    )
