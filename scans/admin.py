"""Django admin for staff: every list goes through the visibility selectors, so staff see
their own teams' patients and scans only; actions call services."""

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import Exists, OuterRef
from django.urls import reverse
from django.utils.html import format_html

from audit.admin_mixins import AuditedAdmin
from audit.models import AuditEvent
from audit.services import audit_record
from scans import selectors, services
from scans.final_result import RESULT_KEYS, final_result_of
from scans.ml import registry
from scans.models import Explanation, Patient, Prediction, Review, Scan
from scans.templatetags.portal import certainty, model_display, result_display


def _thumbnail(url: str, alt: str, size: int = 48) -> str:
    return format_html('<img src="{}" alt="{}" width="{}" height="{}" loading="lazy">', url, alt, size, size)


class ReadOnlyInline:
    """Rows written by the pipeline or a service: shown, never added here. Without an add
    permission Django renders no empty "add" row, whose fields have no object to read."""

    extra = 0
    max_num = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


class ScanInline(ReadOnlyInline, admin.TabularInline):
    model = Scan
    fields = ("scan_link", "status", "result", "created_at")
    readonly_fields = fields
    show_change_link = False
    ordering = ("-created_at",)

    def get_queryset(self, request):
        return selectors.scans_with_list_data(super().get_queryset(request))

    @admin.display(description="scan")
    def scan_link(self, scan: Scan) -> str:
        if scan.pk is None:
            return "—"
        return format_html('<a href="{}">Scan {}</a>', reverse("admin:scans_scan_change", args=[scan.pk]), scan.pk)

    @admin.display(description="final result")
    def result(self, scan: Scan) -> str:
        return _final_result(scan)


def _final_result(scan: Scan) -> str:
    """The final result first, then who set it and what the model said when it differs."""
    result = final_result_of(scan) if hasattr(scan, "final_key") else None
    if result is None:
        return "—"
    text = result_display(result.key)
    if result.source == "model" and result.confidence is not None:
        text = f"{text} {certainty(result.confidence)}"
    if result.source == "review":
        changed = f"model said {result_display(result.model_key)}" if result.changed else "confirmed"
        return format_html("{} (reviewer {}; {})", text, result.reviewed_by, changed)
    return format_html("{} (model, not reviewed)", text)


@admin.register(Patient)
class PatientAdmin(AuditedAdmin, admin.ModelAdmin):
    list_display = ("display_name", "medical_record_number", "team", "created_at")
    # Only the teams of patients this user may see: other teams' names are not theirs to read.
    list_filter = (("team", admin.RelatedOnlyFieldListFilter),)
    list_select_related = ("team",)
    search_fields = ("medical_record_number", "display_name")
    readonly_fields = ("created_by", "created_at", "access_log")
    inlines = [ScanInline]

    def get_queryset(self, request):
        return selectors.patients_visible_to(request.user).select_related("team")

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "team":
            kwargs["queryset"] = selectors.teams_of(request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change) -> None:
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)


class PredictionInline(ReadOnlyInline, admin.StackedInline):
    model = Prediction
    fields = (
        "model_name",
        "model_version",
        ("outcome", "outcome_reason", "ood_score"),
        "label",
        "confidence",
        "probabilities",
        "maps",
        "timings",
    )
    readonly_fields = tuple(f for group in fields for f in (group if isinstance(group, tuple) else (group,)))

    @admin.display(description="heat maps")
    def maps(self, prediction: Prediction) -> str:
        if prediction.scan_id is None:
            return "—"
        args = {"scan_id": prediction.scan_id, "model": prediction.model_name}
        return format_html(
            "{} {}",
            _thumbnail(reverse("api:prediction-gradcam", kwargs=args), "Grad-CAM", 160),
            _thumbnail(reverse("api:prediction-saliency", kwargs=args), "Guided-backprop saliency", 160),
        )


class ExplanationInline(ReadOnlyInline, admin.StackedInline):
    model = Explanation
    fields = (
        ("provider", "model", "prompt_version"),
        ("status", "is_fallback", "error"),
        "text",
        ("latency_ms", "attempts", "created_at"),
    )
    readonly_fields = tuple(f for group in fields for f in (group if isinstance(group, tuple) else (group,)))


class ReviewInline(ReadOnlyInline, admin.TabularInline):
    """The scan's reviews, newest first: the first is in force, the rest its history."""

    model = Review
    fields = ("verdict", "corrected_label", "notes", "reviewer", "created_at")
    readonly_fields = fields
    ordering = ("-created_at", "-pk")


class FinalResultFilter(admin.SimpleListFilter):
    title = "final result"
    parameter_name = "result"

    def lookups(self, request, model_admin):
        return [(key, result_display(key)) for key in RESULT_KEYS]

    def queryset(self, request, queryset):
        if self.value() in RESULT_KEYS:
            return queryset.filter(final_key=self.value())
        return queryset


class ModelFilter(admin.SimpleListFilter):
    title = "model"
    parameter_name = "model"

    def lookups(self, request, model_admin):
        return [(name, model_display(name)) for name in registry.MODEL_NAMES]

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(Exists(Prediction.objects.filter(scan=OuterRef("pk"), model_name=self.value())))
        return queryset


class ReviewedFilter(admin.SimpleListFilter):
    title = "reviewed"
    parameter_name = "reviewed"

    def lookups(self, request, model_admin):
        return [("yes", "Reviewed"), ("no", "Not reviewed"), ("changed", "Model and reviewer disagree")]

    def queryset(self, request, queryset):
        if self.value() in ("yes", "no"):
            return queryset.filter(is_reviewed=self.value() == "yes")
        if self.value() == "changed":
            return queryset.filter(final_changed=True)
        return queryset


@admin.register(Scan)
class ScanAdmin(AuditedAdmin, admin.ModelAdmin):
    list_display = (
        "__str__",
        "thumbnail",
        "patient__medical_record_number",
        "status",
        "result",
        "reviewed",
        "assigned_to",
        "created_at",
    )
    list_filter = (
        "status",
        FinalResultFilter,
        ModelFilter,
        ReviewedFilter,
        ("assigned_to", admin.EmptyFieldListFilter),
    )
    list_select_related = ("patient", "assigned_to")
    search_fields = ("patient__medical_record_number",)
    date_hierarchy = "created_at"
    actions = ["rerun_classification", "regenerate_explanation", "mark_reviewed"]
    inlines = [PredictionInline, ExplanationInline, ReviewInline]
    fields = (
        "thumbnail_large",
        "patient",
        "uploaded_by",
        "original_filename",
        "sha256",
        ("width", "height"),
        "acquisition_date",
        "requested_models",
        "status",
        "error",
        "attempts",
        ("created_at", "started_at", "finished_at"),
        ("assigned_to", "assigned_at"),
    )
    readonly_fields = tuple(f for group in fields for f in (group if isinstance(group, tuple) else (group,)))

    def get_queryset(self, request):
        return selectors.scans_with_list_data(selectors.scans_visible_to(request.user)).select_related("uploaded_by")

    def has_add_permission(self, request) -> bool:
        # Scans come in through the upload page or the API, which validate and store the image.
        return False

    @admin.display(description="image")
    def thumbnail(self, scan: Scan) -> str:
        return _thumbnail(reverse("api:scan-image", args=[scan.pk]), f"Scan {scan.pk}")

    @admin.display(description="image")
    def thumbnail_large(self, scan: Scan) -> str:
        return _thumbnail(reverse("api:scan-image", args=[scan.pk]), f"Scan {scan.pk}", 256)

    @admin.display(description="final result")
    def result(self, scan: Scan) -> str:
        return _final_result(scan)

    @admin.display(description="reviewed", boolean=True, ordering="is_reviewed")
    def reviewed(self, scan: Scan) -> bool:
        return scan.is_reviewed

    # permissions=["change"]: a view-only staff account must not wipe results.
    @admin.action(description="Re-run classification of the selected scans", permissions=["change"])
    def rerun_classification(self, request, queryset) -> None:
        def rerun(scan: Scan) -> None:
            services.scan_rerun(scan=scan, requested_by=request.user)
            audit_record(request=request, action=AuditEvent.Action.RERUN, obj=scan)

        self._each(request, queryset, rerun, "re-queued")

    @admin.action(description="Regenerate the explanation of the selected scans", permissions=["change"])
    def regenerate_explanation(self, request, queryset) -> None:
        def regenerate(scan: Scan) -> None:
            services.explanation_regenerate(scan=scan, requested_by=request.user)
            audit_record(request=request, action=AuditEvent.Action.REGENERATE, obj=scan)

        self._each(request, queryset, regenerate, "queued for a new explanation")

    @admin.action(description="Mark the selected scans reviewed (agree with the result)")
    def mark_reviewed(self, request, queryset) -> None:
        def review(scan: Scan) -> None:
            services.scan_review(
                scan=scan, reviewer=request.user, verdict=Review.Verdict.AGREE, notes="Marked reviewed in admin."
            )
            audit_record(request=request, action=AuditEvent.Action.REVIEW, obj=scan)

        self._each(request, queryset, review, "marked reviewed")

    def _each(self, request, queryset, act, done: str) -> None:
        succeeded = 0
        for scan in queryset:
            try:
                act(scan)
            except ValidationError as error:
                self.message_user(request, f"{scan}: {' '.join(error.messages)}", messages.ERROR)
            else:
                succeeded += 1
        if succeeded:
            self.message_user(request, f"{succeeded} scan(s) {done}.", messages.SUCCESS)


@admin.register(Review)
class ReviewAdmin(admin.ModelAdmin):
    """Reviews are written from the scan page or the admin action, through the service."""

    list_display = ("__str__", "scan", "reviewer", "verdict", "corrected_label", "created_at")
    list_filter = ("verdict", "corrected_label")
    list_select_related = ("scan", "reviewer")
    search_fields = ("scan__patient__medical_record_number", "reviewer__username")
    readonly_fields = ("scan", "reviewer", "verdict", "corrected_label", "notes", "created_at")

    def get_queryset(self, request):
        return Review.objects.filter(scan__in=selectors.scans_visible_to(request.user)).select_related(
            "scan", "reviewer"
        )

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        # Append-only: a wrong review is superseded by a new one, and both stay on record.
        return False
