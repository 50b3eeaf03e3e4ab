"""Django admin for staff: every list goes through the visibility selectors, so staff see
their own teams' patients and scans only; actions call services."""

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import Exists, OuterRef
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from audit.models import AuditEvent
from audit.services import audit_record
from scans import selectors, services
from scans.ml import registry
from scans.ml.classes import CLASS_NAMES
from scans.models import Explanation, Patient, Prediction, Review, Scan
from scans.templatetags.portal import label_display, model_display, percent


def _thumbnail(url: str, alt: str, size: int = 48) -> str:
    return format_html('<img src="{}" alt="{}" width="{}" height="{}" loading="lazy">', url, alt, size, size)


class ScanInline(admin.TabularInline):
    model = Scan
    fields = ("scan_link", "status", "result", "created_at")
    readonly_fields = fields
    extra = 0
    max_num = 0
    can_delete = False
    show_change_link = False
    ordering = ("-created_at",)

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("predictions")

    @admin.display(description="scan")
    def scan_link(self, scan: Scan) -> str:
        return format_html('<a href="{}">Scan {}</a>', reverse("admin:scans_scan_change", args=[scan.pk]), scan.pk)

    @admin.display(description="result")
    def result(self, scan: Scan) -> str:
        return _results(scan)


def _results(scan: Scan) -> str:
    return (
        format_html_join(
            ", ",
            "{} {} ({})",
            (
                (label_display(p.label), percent(p.confidence), model_display(p.model_name))
                for p in scan.predictions.all()
            ),
        )
        or "—"
    )


@admin.register(Patient)
class PatientAdmin(admin.ModelAdmin):
    list_display = ("display_name", "medical_record_number", "team", "created_at")
    list_filter = ("team",)
    list_select_related = ("team",)
    search_fields = ("medical_record_number", "display_name")
    readonly_fields = ("created_by", "created_at")
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


class PredictionInline(admin.StackedInline):
    model = Prediction
    fields = ("model_name", "model_version", "label", "confidence", "probabilities", "maps", "timings")
    readonly_fields = fields
    extra = 0
    max_num = 0
    can_delete = False

    @admin.display(description="heat maps")
    def maps(self, prediction: Prediction) -> str:
        args = {"scan_id": prediction.scan_id, "model": prediction.model_name}
        return format_html(
            "{} {}",
            _thumbnail(reverse("api:prediction-gradcam", kwargs=args), "Grad-CAM", 160),
            _thumbnail(reverse("api:prediction-saliency", kwargs=args), "Guided-backprop saliency", 160),
        )


class ExplanationInline(admin.StackedInline):
    model = Explanation
    fields = (
        ("provider", "model", "prompt_version"),
        ("status", "is_fallback", "error"),
        "text",
        ("latency_ms", "attempts", "created_at"),
    )
    readonly_fields = tuple(f for group in fields for f in (group if isinstance(group, tuple) else (group,)))
    extra = 0
    max_num = 0
    can_delete = False


class LabelFilter(admin.SimpleListFilter):
    title = "label"
    parameter_name = "label"

    def lookups(self, request, model_admin):
        return [(name, label_display(name)) for name in CLASS_NAMES]

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(Exists(Prediction.objects.filter(scan=OuterRef("pk"), label=self.value())))
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
        return [("yes", "Reviewed"), ("no", "Not reviewed")]

    def queryset(self, request, queryset):
        if self.value() in ("yes", "no"):
            return queryset.filter(is_reviewed=self.value() == "yes")
        return queryset


@admin.register(Scan)
class ScanAdmin(admin.ModelAdmin):
    list_display = (
        "__str__",
        "thumbnail",
        "patient__medical_record_number",
        "status",
        "result",
        "reviewed",
        "created_at",
    )
    list_filter = ("status", LabelFilter, ModelFilter, ReviewedFilter)
    list_select_related = ("patient",)
    search_fields = ("patient__medical_record_number",)
    date_hierarchy = "created_at"
    actions = ["rerun_classification", "regenerate_explanation", "mark_reviewed"]
    inlines = [PredictionInline, ExplanationInline]
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

    @admin.display(description="result")
    def result(self, scan: Scan) -> str:
        return _results(scan)

    @admin.display(description="reviewed", boolean=True, ordering="is_reviewed")
    def reviewed(self, scan: Scan) -> bool:
        return scan.is_reviewed

    @admin.action(description="Re-run classification of the selected scans")
    def rerun_classification(self, request, queryset) -> None:
        self._each(request, queryset, lambda scan: services.scan_rerun(scan=scan), "re-queued")

    @admin.action(description="Regenerate the explanation of the selected scans", permissions=["change"])
    def regenerate_explanation(self, request, queryset) -> None:
        self._each(
            request,
            queryset,
            lambda scan: services.explanation_regenerate(scan=scan, requested_by=request.user),
            "queued for a new explanation",
        )

    @admin.action(description="Mark the selected scans reviewed (agree with the result)")
    def mark_reviewed(self, request, queryset) -> None:
        def review(scan: Scan) -> None:
            services.scan_review(scan=scan, reviewer=request.user, agrees=True, notes="Marked reviewed in admin.")
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

    list_display = ("__str__", "scan", "reviewer", "agrees", "corrected_label", "created_at")
    list_filter = ("agrees", "corrected_label")
    list_select_related = ("scan", "reviewer")
    search_fields = ("scan__patient__medical_record_number", "reviewer__username")
    readonly_fields = ("scan", "reviewer", "agrees", "corrected_label", "notes", "created_at")

    def get_queryset(self, request):
        return Review.objects.filter(scan__in=selectors.scans_visible_to(request.user)).select_related(
            "scan", "reviewer"
        )

    def has_add_permission(self, request) -> bool:
        return False
