"""Patients, their scans, and what the pipeline and reviewers wrote about each scan."""

from django.conf import settings
from django.db import models

from scans.ml.classes import CLASS_NAMES

LABEL_CHOICES = [(name, name) for name in CLASS_NAMES]


class Patient(models.Model):
    class Sex(models.TextChoices):
        FEMALE = "F", "Female"
        MALE = "M", "Male"
        OTHER = "O", "Other"

    team = models.ForeignKey("accounts.Team", on_delete=models.PROTECT, related_name="patients")
    medical_record_number = models.CharField(max_length=64)
    display_name = models.CharField(max_length=200)
    sex = models.CharField(max_length=1, choices=Sex.choices, blank=True)
    birth_year = models.PositiveSmallIntegerField(null=True, blank=True)
    notes = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["team", "medical_record_number"], name="unique_mrn_per_team")]

    def __str__(self) -> str:
        # Ids only: a patient's str() may end up in logs and error reports.
        return f"Patient {self.pk}"


class Exam(models.Model):
    """The slices of one DICOM series of one patient (scans.dicom): one row in the case history.

    `series_key` is a salted hash of the Study and Series Instance UIDs, never the UIDs."""

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="exams")
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    series_key = models.CharField(max_length=64)
    modality = models.CharField(max_length=16, blank=True)
    orientation = models.CharField(max_length=16, blank=True)
    series_description = models.CharField(max_length=64, blank=True)
    identifiers_differ = models.BooleanField(
        default=False, help_text="Uploaded although the files' Patient ID differs from the patient's MRN."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["patient", "series_key"], name="one_exam_per_series")]

    def __str__(self) -> str:
        return f"Exam {self.pk}"


class Scan(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        PROCESSING = "processing", "Processing"
        CLASSIFIED = "classified", "Classified"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="scans")
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    image = models.FileField(max_length=200, help_text="Re-encoded PNG under a generated name.")
    original_filename = models.CharField(max_length=255, blank=True)
    sha256 = models.CharField(max_length=64, help_text="Of the bytes as uploaded.")
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    acquisition_date = models.DateField(null=True, blank=True)
    requested_models = models.JSONField(default=list)
    exam = models.ForeignKey(Exam, on_delete=models.CASCADE, null=True, blank=True, related_name="scans")
    dicom = models.JSONField(
        default=dict, blank=True, help_text="A DICOM slice's allow-listed technical attributes (scans.dicom)."
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED, db_index=True)
    error = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Who is to review it: set by a reviewer of the patient's team (services.scan_assign),
    # so two reviewers do not read the same scan while the rest of the queue waits.
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="assigned_scans"
    )
    assigned_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            # The same image uploaded twice for one patient (scans.duplicates) is looked up on every scan page.
            models.Index(fields=["patient", "sha256"], name="scan_patient_sha256"),
        ]

    def __str__(self) -> str:
        return f"Scan {self.pk}"


class Outcome(models.TextChoices):
    """What the engine made of one image: a result to show, an abstention, or a refusal."""

    CLASSIFIED = "classified", "Classified"
    UNCERTAIN = "uncertain", "Uncertain — needs a radiologist's read"
    REFUSED = "refused", "Refused — not recognised as a brain MRI slice"


class Prediction(models.Model):
    scan = models.ForeignKey(Scan, on_delete=models.CASCADE, related_name="predictions")
    model_name = models.CharField(max_length=32)
    model_version = models.CharField(max_length=64, help_text="sha256 of the weights file.")
    label = models.CharField(max_length=16, choices=LABEL_CHOICES)
    confidence = models.FloatField()
    probabilities = models.JSONField(help_text="Class name -> probability, all four classes.")
    gradcam = models.FileField(max_length=200)
    saliency = models.FileField(max_length=200)
    gradcam_stats = models.JSONField(default=dict)
    saliency_stats = models.JSONField(default=dict)
    timings = models.JSONField(default=dict, help_text="Stage -> ms, with total_ms.")
    outcome = models.CharField(max_length=16, choices=Outcome.choices, default=Outcome.CLASSIFIED, db_index=True)
    outcome_reason = models.CharField(max_length=300, blank=True, help_text="Why refused or uncertain.")
    ood_score = models.FloatField(null=True, blank=True, help_text="Out-of-distribution score; higher is stranger.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["model_name"]
        constraints = [
            # A second run of the same task can never add a second result for one model.
            models.UniqueConstraint(fields=["scan", "model_name"], name="one_prediction_per_model")
        ]

    def __str__(self) -> str:
        return f"{self.model_name} on scan {self.scan_id}: {self.label}"


class Explanation(models.Model):
    """One plain-language explanation per scan, covering all of its predictions."""

    class Provider(models.TextChoices):
        GEMINI = "gemini", "Gemini"
        OFFLINE = "offline", "Offline explainer"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    scan = models.OneToOneField(Scan, on_delete=models.CASCADE, related_name="explanation")
    provider = models.CharField(max_length=16, choices=Provider.choices)
    model = models.CharField(max_length=64, blank=True, help_text="The LLM's model id.")
    prompt_version = models.CharField(max_length=32, blank=True)
    content = models.JSONField(default=dict, blank=True)
    text = models.TextField(blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    is_fallback = models.BooleanField(default=False)
    error = models.TextField(blank=True)
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    claimed_by = models.CharField(
        max_length=64,
        blank=True,
        help_text="The task delivery (Celery task id) writing a pending explanation: the same "
        "message delivered again after a crash or a database outage takes its claim over.",
    )

    def __str__(self) -> str:
        return f"Explanation of scan {self.scan_id} ({self.provider})"


class CurrentReviews(models.Manager):
    """The reviews that count. A re-run replaces the result they judged, so it marks them
    superseded: they stay in the database (Review.all_objects) and the audit trail."""

    def get_queryset(self) -> models.QuerySet:
        return super().get_queryset().filter(superseded_at__isnull=True)


class Review(models.Model):
    """A reviewer's verdict on a scan. Append-only: a newer review supersedes, none is edited."""

    class Verdict(models.TextChoices):
        AGREE = "agree", "Agree with the model"
        CORRECTED = "corrected", "Corrected to another class"
        NOT_BRAIN_MRI = "not_brain_mri", "Not a brain MRI"
        NON_DIAGNOSTIC = "non_diagnostic", "Non-diagnostic image"
        OTHER_PATHOLOGY = "other_pathology", "Other pathology"

    scan = models.ForeignKey(Scan, on_delete=models.CASCADE, related_name="reviews")
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="reviews")
    verdict = models.CharField(max_length=16, choices=Verdict.choices)
    corrected_label = models.CharField(max_length=16, choices=LABEL_CHOICES, blank=True)
    notes = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    superseded_at = models.DateTimeField(null=True, blank=True, editable=False)

    all_objects = models.Manager()
    objects = CurrentReviews()

    class Meta:
        ordering = ["-created_at"]
        # Related managers, the admin and every query count only the current reviews.
        default_manager_name = "objects"

    def __str__(self) -> str:
        return f"Review of scan {self.scan_id} by {self.reviewer_id}"
