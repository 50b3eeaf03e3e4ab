"""Writes the web side needs. Views, the API and admin actions only call these."""

import logging
from collections.abc import Callable
from datetime import date

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import Team, User
from notifications.services import assignment_notify
from scans import tasks
from scans.final_result import final_result_of, with_final_result
from scans.images import image_inspect
from scans.ml import registry
from scans.ml.errors import WeightsError
from scans.models import Explanation, Outcome, Patient, Review, Scan
from scans.storage import image_delete, upload_store

logger = logging.getLogger(__name__)

# What a request may ask for in its `model` field, and the engine models each one runs.
MODEL_CHOICES = {
    "custom_cnn": ("custom_cnn",),
    "xception": ("xception",),
    "both": ("custom_cnn", "xception"),
}


def patient_create(
    *,
    team: Team,
    created_by: User,
    medical_record_number: str,
    display_name: str,
    sex: str = "",
    birth_year: int | None = None,
    notes: str = "",
) -> Patient:
    if not team.members.filter(pk=created_by.pk).exists():
        raise ValidationError({"team": "You are not a member of this team."})
    patient = Patient(
        team=team,
        created_by=created_by,
        medical_record_number=medical_record_number.strip(),
        display_name=display_name.strip(),
        sex=sex,
        birth_year=birth_year,
        notes=notes,
    )
    return _patient_save(patient)


def models_resolve(*, choice: str | None) -> tuple[str, ...]:
    """The engine models a request's `model` field asks for; refuses ones we cannot run."""
    choice = choice or registry.DEFAULT_MODEL
    if choice not in MODEL_CHOICES:
        raise ValidationError({"model": f"Unknown model '{choice}': choose one of {', '.join(MODEL_CHOICES)}."})
    names = MODEL_CHOICES[choice]
    for name in names:
        if not registry.weights_available(name):
            raise ValidationError({"model": f"{_display_name(name)} is not available: its weights are not installed."})
    return names


def _display_name(name: str) -> str:
    try:
        return registry.get_spec(name).display_name
    except WeightsError:
        # A model without its card has no spec; its architecture still has a name.
        return registry.ARCHITECTURE_FACTS[name].display_name


def scan_submit(
    *,
    patient: Patient,
    uploaded_by: User,
    file: UploadedFile,
    model: str | None = None,
    acquisition_date: date | None = None,
    on_created: Callable[[Scan], None] | None = None,
) -> Scan:
    """Validates and stores an uploaded scan, then queues its classification on commit.

    `on_created` runs inside the scan's transaction (the audit write): if it fails, no row,
    file or task is left behind.

    Nothing is stored and no row is written unless the bytes pass every check. The bytes are
    stored as they came; the worker re-encodes them before classifying (scans.intake).
    """
    models = models_resolve(choice=model)
    if file.size is not None and file.size > settings.SCAN_MAX_UPLOAD_BYTES:
        # Refuse from the declared size, before reading a byte of it into memory.
        limit_mb = settings.SCAN_MAX_UPLOAD_BYTES // (1024 * 1024)
        raise ValidationError({"image": f"The file is too large: the limit is {limit_mb} MB."})
    data = file.read(settings.SCAN_MAX_UPLOAD_BYTES + 1)
    try:
        checked = image_inspect(
            data=data,
            max_bytes=settings.SCAN_MAX_UPLOAD_BYTES,
            max_pixels=settings.SCAN_MAX_PIXELS,
            min_side=settings.SCAN_MIN_SIDE,
        )
    except ValidationError as error:
        raise ValidationError({"image": error.messages}) from None

    name = upload_store(data=data)
    try:
        with transaction.atomic():
            scan = Scan.objects.create(
                patient=patient,
                uploaded_by=uploaded_by,
                image=name,
                original_filename=(file.name or "")[:255],
                sha256=checked.sha256,
                width=checked.width,
                height=checked.height,
                acquisition_date=acquisition_date,
                requested_models=list(models),
            )
            if on_created is not None:
                on_created(scan)
            transaction.on_commit(lambda: tasks.enqueue_classification(scan.pk))
    except Exception:
        image_delete(name=name)
        raise
    logger.info("scan %s queued for %s", scan.pk, ",".join(models))
    return scan


def scan_review(*, scan: Scan, reviewer: User, verdict: str, corrected_label: str = "", notes: str = "") -> Review:
    """Records a reviewer's verdict. Reviews are never edited: a new one supersedes the last,
    which stays in the history."""
    if not reviewer.is_reviewer:
        raise ValidationError("Only staff reviewers can review scans.")
    if scan.status != Scan.Status.DONE:
        raise ValidationError("Only a finished scan can be reviewed.")
    if verdict not in Review.Verdict.values:
        raise ValidationError(
            {"verdict": f"Unknown verdict '{verdict}': choose one of {', '.join(Review.Verdict.values)}."}
        )
    if verdict == Review.Verdict.CORRECTED and not corrected_label:
        raise ValidationError({"corrected_label": "Give the correct class."})
    if verdict != Review.Verdict.CORRECTED and corrected_label:
        raise ValidationError({"corrected_label": "Give a class only when you correct the result."})
    if verdict == Review.Verdict.OTHER_PATHOLOGY and not notes.strip():
        raise ValidationError({"notes": "Say which pathology you see."})
    model = final_result_of(with_final_result(Scan.objects.filter(pk=scan.pk)).get())
    called = model is not None and model.model_outcome == Outcome.CLASSIFIED
    if verdict == Review.Verdict.AGREE and not called:
        # "Agree" must never turn an abstention or a refusal into a confirmed class.
        raise ValidationError(
            {"verdict": "The model gave no single confident class to agree with: give the class, or another verdict."}
        )
    if verdict == Review.Verdict.CORRECTED and called and model.model_label == corrected_label:
        raise ValidationError({"corrected_label": "That is the model's class: choose “Agree” instead."})
    review = Review(scan=scan, reviewer=reviewer, verdict=verdict, corrected_label=corrected_label, notes=notes)
    review.full_clean()
    review.save()
    logger.info("scan %s reviewed: %s", scan.pk, verdict)
    return review


def scan_assign(*, scan: Scan, assignee: User | None, by: User) -> Scan:
    """Gives a finished scan to one reviewer of its patient's team, or takes it back
    (`assignee` None). Only reviewers assign: the queue is theirs to share out."""
    if not by.is_reviewer:
        raise ValidationError("Only staff reviewers can assign scans.")
    if scan.status != Scan.Status.DONE:
        raise ValidationError("Only a finished scan can be assigned for review.")
    if assignee is not None:
        if not (assignee.is_active and assignee.is_reviewer):
            raise ValidationError({"assignee": f"{assignee.get_username()} is not an active staff reviewer."})
        if not assignee.teams.filter(pk=scan.patient.team_id).exists():
            raise ValidationError(
                {"assignee": f"{assignee.get_username()} is not in this patient's team, so cannot see the scan."}
            )
    scan.assigned_to = assignee
    scan.assigned_at = timezone.now() if assignee else None
    scan.save(update_fields=["assigned_to", "assigned_at", "updated_at"])
    if assignee is not None and assignee != by:
        assignment_notify(scan_id=scan.pk, assignee=assignee, by=by)
    logger.info("scan %s assigned to user %s", scan.pk, assignee.pk if assignee else None)
    return scan


def patient_update(
    *,
    patient: Patient,
    medical_record_number: str,
    display_name: str,
    sex: str = "",
    birth_year: int | None = None,
    notes: str = "",
) -> Patient:
    """Changes a patient's details; the team never changes (it decides who may see them)."""
    patient.medical_record_number = medical_record_number.strip()
    patient.display_name = display_name.strip()
    patient.sex = sex
    patient.birth_year = birth_year
    patient.notes = notes
    return _patient_save(patient)


def scan_rerun(*, scan: Scan, requested_by: User) -> Scan:
    """Throws away a finished scan's results and queues its classification again.

    Only staff reviewers may: it deletes predictions, heat maps and the explanation. The old
    overlays are deleted only after the commit, so a rolled-back re-run loses nothing.
    """
    if not requested_by.is_reviewer:
        raise ValidationError("Only staff reviewers can re-run a classification.")
    with transaction.atomic():
        scan = Scan.objects.select_for_update().get(pk=scan.pk)
        if scan.status not in (Scan.Status.DONE, Scan.Status.FAILED):
            raise ValidationError("Only a finished or failed scan can be re-run.")
        old_files = [name for p in scan.predictions.all() for name in (p.gradcam.name, p.saliency.name)]
        scan.predictions.all().delete()
        # The reviews judged the old result: kept as history, they no longer count.
        Review.objects.filter(scan=scan).update(superseded_at=timezone.now())
        Explanation.objects.filter(scan=scan).delete()
        scan.status = Scan.Status.QUEUED
        scan.error = ""
        scan.attempts = 0
        scan.started_at = None
        scan.finished_at = None
        scan.save(update_fields=["status", "error", "attempts", "started_at", "finished_at", "updated_at"])
        transaction.on_commit(lambda: _images_delete(old_files))
        transaction.on_commit(lambda: tasks.enqueue_classification(scan.pk))
    logger.info("scan %s re-queued", scan.pk)
    return scan


def explanation_regenerate(*, scan: Scan, requested_by: User) -> Scan:
    """Throws away a finished scan's explanation and queues a new one; the predictions stay.

    The scan goes back to `classified`, so its page shows "Explanation pending" and polls
    until explain_scan has written the new one.
    """
    if not requested_by.is_reviewer:
        raise ValidationError("Only staff reviewers can regenerate explanations.")
    with transaction.atomic():
        scan = Scan.objects.select_for_update().get(pk=scan.pk)
        if scan.status != Scan.Status.DONE:
            raise ValidationError("Only a finished scan's explanation can be regenerated.")
        Explanation.objects.filter(scan=scan).delete()
        scan.status = Scan.Status.CLASSIFIED
        scan.finished_at = None
        scan.save(update_fields=["status", "finished_at", "updated_at"])
        transaction.on_commit(lambda: tasks.enqueue_explanation(scan.pk))
    logger.info("scan %s: explanation regenerating", scan.pk)
    return scan


def _images_delete(names: list[str]) -> None:
    for name in names:
        image_delete(name=name)


def _patient_save(patient: Patient) -> Patient:
    """Validate and save; a duplicate MRN in the team is a field error, not a 500."""
    patient.full_clean(validate_constraints=False)
    try:
        with transaction.atomic():
            patient.save()
    except IntegrityError:
        raise ValidationError(
            {"medical_record_number": "A patient with this record number already exists in this team."}
        ) from None
    return patient
