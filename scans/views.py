"""The portal's pages: parse the request, call a selector or a service, render a template."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from audit.models import AuditEvent
from audit.services import audit_list, audit_record
from notifications.batches import batch_record
from scans import selectors, services
from scans.duplicates import earlier_copy_of
from scans.explain_settings import gemini_mode
from scans.forms import AssignForm, PatientForm, ReviewForm, ScanFilterForm, UploadForm
from scans.history import patient_history_page
from scans.ml.cards import PLANE_AND_SEQUENCE_LIMIT
from scans.models import Outcome, Scan
from scans.uploads import dicom_upload_submit, is_dicom_upload

PAGE_SIZE = 25


def _page(request: HttpRequest, items, size: int = PAGE_SIZE):
    return Paginator(items, size).get_page(request.GET.get("page"))


def _add_errors(form, error: ValidationError) -> None:
    """A service's ValidationError, shown beside the field it names (or above the form)."""
    if not hasattr(error, "error_dict"):
        form.add_error(None, error)
        return
    for field, messages_ in error.message_dict.items():
        form.add_error(field if field in form.fields else None, messages_)


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    dashboard = selectors.dashboard_for(user=request.user)
    audit_list(
        request=request, patient_ids=[s.patient_id for s in (*dashboard.recent, *dashboard.queue, *dashboard.failed)]
    )
    return render(request, "scans/dashboard.html", {"dashboard": dashboard})


@login_required
def patient_list(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()
    page = _page(request, selectors.patients_search(user=request.user, query=query))
    audit_list(request=request, patient_ids=[patient.pk for patient in page])
    return render(request, "scans/patient_list.html", {"page": page, "query": query})


@login_required
def patient_create(request: HttpRequest) -> HttpResponse:
    teams = list(selectors.teams_of(request.user))
    form = PatientForm(request.POST or None, teams=teams)
    if request.method == "POST" and form.is_valid():
        try:
            patient = services.patient_create(team=form.chosen_team(), created_by=request.user, **form.details())
        except ValidationError as error:
            _add_errors(form, error)
        else:
            audit_record(request=request, action=AuditEvent.Action.CREATE, obj=patient)
            messages.success(request, "Patient created.")
            return redirect("scans:patient-detail", patient_id=patient.pk)
    return render(request, "scans/patient_form.html", {"form": form, "no_team": not teams})


@login_required
def patient_edit(request: HttpRequest, patient_id: int) -> HttpResponse:
    patient = selectors.patient_get(user=request.user, patient_id=patient_id)
    initial = {f: getattr(patient, f) for f in ("medical_record_number", "display_name", "sex", "birth_year", "notes")}
    form = PatientForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.patient_update(patient=patient, **form.details())
        except ValidationError as error:
            _add_errors(form, error)
        else:
            audit_record(request=request, action=AuditEvent.Action.CHANGE, obj=patient)
            messages.success(request, "Patient updated.")
            return redirect("scans:patient-detail", patient_id=patient.pk)
    audit_record(request=request, action=AuditEvent.Action.VIEW, obj=patient)
    return render(request, "scans/patient_form.html", {"form": form, "patient": patient})


@login_required
def patient_detail(request: HttpRequest, patient_id: int) -> HttpResponse:
    patient = selectors.patient_get(user=request.user, patient_id=patient_id)
    audit_record(request=request, action=AuditEvent.Action.VIEW, obj=patient)
    context = {
        "patient": patient,
        # A DICOM series is one row (scans.history), a PNG or JPEG scan one row each.
        "page": patient_history_page(patient=patient, number=request.GET.get("page"), size=50),
        "chart": selectors.patient_chart_points(patient=patient),
    }
    return render(request, "scans/patient_detail.html", context)


@login_required
def upload(request: HttpRequest) -> HttpResponse:
    """The upload page. With JavaScript each file goes to the API with its own progress bar;
    without it, this view takes the whole form."""
    patients = selectors.patients_visible_to(request.user).order_by("display_name", "pk")
    initial = {"patient": request.GET.get("patient")}
    form = UploadForm(
        request.POST or None,
        request.FILES or None,
        patients=patients,
        options=selectors.model_options(),
        initial=initial,
    )
    if request.method == "POST" and form.is_valid():
        scans, failures = _submit_all(request, form)
        batch_record(uploaded_by=request.user, scans=scans)
        _warn_of_repeats(request, scans)
        if scans and not failures:
            messages.success(request, f"{len(scans)} scan(s) uploaded.")
            return (
                redirect("scans:scan-detail", scan_id=scans[0].pk)
                if len(scans) == 1
                else redirect("scans:patient-detail", patient_id=form.cleaned_data["patient"].pk)
            )
        return render(request, "scans/upload.html", {"form": form, "uploaded": scans, "failures": failures})
    return render(request, "scans/upload.html", {"form": form})


def _submit_all(request: HttpRequest, form: UploadForm) -> tuple[list, list[tuple[str, str]]]:
    scans, failures = [], []
    files = form.cleaned_data["images"]
    if not files:
        return [], [("", "Choose at least one image.")]
    for file in files:
        fields = {
            "patient": form.cleaned_data["patient"],
            "uploaded_by": request.user,
            "file": file,
            "model": form.cleaned_data["model"],
            "acquisition_date": form.cleaned_data["acquisition_date"],
            # In the upload's transaction: never a scan without its audit event.
            "on_created": lambda obj: audit_record(request=request, action=AuditEvent.Action.CREATE, obj=obj),
        }
        try:
            if is_dicom_upload(file):
                made = dicom_upload_submit(
                    **fields,
                    identifiers_differ_ok=form.cleaned_data["identifiers_differ_ok"],
                    on_identifiers_override=lambda exam: audit_record(
                        request=request, action=AuditEvent.Action.IDENTIFIERS_OVERRIDE, obj=exam
                    ),
                )
                scans.extend(made.scans)
            else:
                scans.append(services.scan_submit(**fields))
        except ValidationError as error:
            failures.append((file.name, " ".join(error.messages)))
    return scans, failures


def _warn_of_repeats(request: HttpRequest, scans: list) -> None:
    """Accepted, but said: several files land on the patient page, not on each scan's page
    where the notice with its link is (templates/scans/partials/duplicate_notice.html)."""
    for scan in scans:
        earlier = earlier_copy_of(scan)
        if earlier is not None:
            name = scan.original_filename or f"Scan {scan.pk}"
            messages.warning(
                request,
                f"{name} (scan {scan.pk}): the same image was uploaded on "
                f"{timezone.localtime(earlier.created_at):%Y-%m-%d %H:%M} as scan {earlier.pk}. Both are kept.",
            )


def _model_called(scan) -> bool:
    result = selectors.final_result_of(scan)
    return result is not None and result.model_outcome == Outcome.CLASSIFIED


def _scan_context(
    request: HttpRequest, scan, review_form: ReviewForm | None = None, assign_form: AssignForm | None = None
) -> dict:
    is_reviewer = request.user.is_reviewer
    return {
        "scan": scan,
        "pending": scan.status in selectors.PENDING,
        "review_form": review_form or ReviewForm(model_called=_model_called(scan)),
        "assign_form": (
            assign_form
            or AssignForm(initial={"assignee": scan.assigned_to_id}, reviewers=selectors.reviewers_for(scan=scan))
            if is_reviewer and scan.status == Scan.Status.DONE
            else None
        ),
        # Only once the scan is done: the pending page polls every 2 s.
        "next_in_queue": (
            selectors.review_queue_next(user=request.user, after=scan)
            if is_reviewer and scan.status == Scan.Status.DONE
            else None
        ),
        "gemini_mode": gemini_mode(),
    }


@login_required
def scan_detail(request: HttpRequest, scan_id: int) -> HttpResponse:
    scan = selectors.scan_get(user=request.user, scan_id=scan_id)
    audit_record(request=request, action=AuditEvent.Action.VIEW, obj=scan)
    # The same patient's scan, so visible to whoever may see this one (scans.duplicates).
    context = {**_scan_context(request, scan), "earlier_copy": earlier_copy_of(scan)}
    return render(request, "scans/scan_detail.html", context)


@login_required
def scan_result(request: HttpRequest, scan_id: int) -> HttpResponse:
    """The part of the scan page that changes while the scan is processed (htmx polls it)."""
    scan = selectors.scan_get(user=request.user, scan_id=scan_id)
    audit_record(request=request, action=AuditEvent.Action.VIEW, obj=scan)
    return render(request, "scans/partials/scan_result.html", _scan_context(request, scan))


@login_required
@require_POST
def scan_review(request: HttpRequest, scan_id: int) -> HttpResponse:
    scan = selectors.scan_get(user=request.user, scan_id=scan_id)
    form = ReviewForm(request.POST, model_called=_model_called(scan))
    if form.is_valid():
        try:
            review = services.scan_review(scan=scan, reviewer=request.user, **form.cleaned_data)
        except ValidationError as error:
            _add_errors(form, error)
        else:
            audit_record(request=request, action=AuditEvent.Action.REVIEW, obj=review.scan)
            messages.success(request, "Review saved.")
            return redirect("scans:scan-detail", scan_id=scan.pk)
    return render(request, "scans/scan_detail.html", _scan_context(request, scan, form), status=400)


@login_required
@require_POST
def scan_assign(request: HttpRequest, scan_id: int) -> HttpResponse:
    scan = selectors.scan_get(user=request.user, scan_id=scan_id)
    if not request.user.is_reviewer:
        raise PermissionDenied
    form = AssignForm(request.POST, reviewers=selectors.reviewers_for(scan=scan))
    if form.is_valid():
        assignee = form.cleaned_data["assignee"]
        try:
            services.scan_assign(scan=scan, assignee=assignee, by=request.user)
        except ValidationError as error:
            _add_errors(form, error)
        else:
            audit_record(request=request, action=AuditEvent.Action.ASSIGN, obj=scan)
            if assignee is None:
                messages.success(request, f"Scan {scan.pk} is back in the shared queue.")
            else:
                whom = "you" if assignee == request.user else assignee.get_username()
                messages.success(request, f"Scan {scan.pk} is assigned to {whom}.")
            return redirect("scans:scan-detail", scan_id=scan.pk)
    return render(request, "scans/scan_detail.html", _scan_context(request, scan, assign_form=form), status=400)


@login_required
def review_queue(request: HttpRequest) -> HttpResponse:
    """The reviewer's work list: their teams' unreviewed results, riskiest first."""
    if not request.user.is_reviewer:
        raise PermissionDenied
    view = request.GET.get("view", "")
    view = view if view in selectors.QUEUE_VIEWS else ""
    sizes = selectors.review_queue_assignments(user=request.user)
    context = {
        "page": _page(request, selectors.review_queue(user=request.user, view=view)),
        "counts": selectors.review_queue_counts(user=request.user),
        "view": view,
        "views": [(key, label, sizes[key]) for key, label in selectors.QUEUE_VIEWS.items()],
    }
    audit_list(request=request, patient_ids=[scan.patient_id for scan in context["page"]])
    return render(request, "scans/review_queue.html", context)


@login_required
@require_POST
def explanation_regenerate(request: HttpRequest, scan_id: int) -> HttpResponse:
    scan = selectors.scan_get(user=request.user, scan_id=scan_id)
    if not request.user.is_reviewer:
        raise PermissionDenied
    try:
        services.explanation_regenerate(scan=scan, requested_by=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        audit_record(request=request, action=AuditEvent.Action.REGENERATE, obj=scan)
        messages.success(request, "A new explanation is being written.")
    return redirect("scans:scan-detail", scan_id=scan.pk)


@login_required
def scan_list(request: HttpRequest) -> HttpResponse:
    patients = selectors.patients_visible_to(request.user).order_by("display_name", "pk")
    filters = ScanFilterForm(request.GET, patients=patients)
    page = _page(request, selectors.scans_search(user=request.user, **filters.search_arguments()))
    audit_list(request=request, patient_ids=[scan.patient_id for scan in page])
    return render(request, "scans/scan_list.html", {"filters": filters, "page": page})


@login_required
def model_card(request: HttpRequest, name: str) -> HttpResponse:
    card = selectors.model_card(name=name)
    return render(
        request,
        "scans/model_card.html",
        {"name": name, "card": card, "plane_and_sequence_limit": PLANE_AND_SEQUENCE_LIMIT},
    )
