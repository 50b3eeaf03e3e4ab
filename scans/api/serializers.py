"""What the API reads and writes. Output serializers only read; services do the writing."""

from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from scans.duplicates import earlier_copy_of
from scans.final_result import final_result_of, with_final_result
from scans.models import Explanation, Patient, Prediction, Review, Scan
from scans.services import MODEL_CHOICES
from scans.validators import not_in_the_future


def _absolute(context: dict, name: str, **kwargs) -> str:
    return context["request"].build_absolute_uri(reverse(name, kwargs=kwargs))


class PatientInput(serializers.Serializer):
    team = serializers.IntegerField(required=False, help_text="Needed when you are in several teams.")
    medical_record_number = serializers.CharField(max_length=64)
    display_name = serializers.CharField(max_length=200)
    sex = serializers.ChoiceField(choices=Patient.Sex.choices, required=False, default="")
    birth_year = serializers.IntegerField(required=False, allow_null=True, min_value=1900, max_value=2100)
    notes = serializers.CharField(required=False, allow_blank=True, default="", max_length=10_000)


class PatientOutput(serializers.ModelSerializer):
    class Meta:
        model = Patient
        fields = [
            "id",
            "team",
            "medical_record_number",
            "display_name",
            "sex",
            "birth_year",
            "notes",
            "created_at",
        ]


class ScanInput(serializers.Serializer):
    image = serializers.FileField(
        help_text="PNG or JPEG (at most 20 MB and 16 megapixels), a DICOM file, or a zip of DICOM files "
        "(a series or study, at most 49 MB)."
    )
    model = serializers.ChoiceField(choices=list(MODEL_CHOICES), required=False, default=None, allow_null=True)
    acquisition_date = serializers.DateField(
        required=False, allow_null=True, default=None, validators=[not_in_the_future]
    )
    identifiers_differ_ok = serializers.BooleanField(
        required=False,
        default=False,
        help_text="DICOM: upload even though the files' Patient ID differs from the patient's record number.",
    )
    batch = serializers.UUIDField(
        required=False,
        default=None,
        allow_null=True,
        help_text="Files sent one per request that belong to one upload name the same key, and "
        "POST /api/v1/upload-batches/{key}/close/ after the last: one notification for them all. "
        "Without it each request is its own batch.",
    )


class PredictionOutput(serializers.ModelSerializer):
    model = serializers.CharField(source="model_name")
    outcome = serializers.CharField(
        help_text="What the result may be read as. `classified`: the label is the model's call. "
        "`uncertain`: the model is too unsure to call this slice (its confidence is below the "
        "threshold chosen on validation); label and probabilities are shown as unsure and it needs a "
        "radiologist's read. `refused`: the image was not recognised as a brain MRI slice; label, "
        "confidence and probabilities are the model's raw answer, kept for research, and are not a result."
    )
    outcome_reason = serializers.CharField(
        help_text="Why the result is `uncertain` or `refused`, in one sentence; empty when `classified`."
    )
    ood_score = serializers.FloatField(
        allow_null=True,
        help_text="Out-of-distribution score: the Mahalanobis distance of the network's pooled features to "
        "the nearest class of training slices, where 1 is a typical training slice and higher is stranger; "
        "above the model card's limit the image is refused. Null for predictions made before the check existed.",
    )
    gradcam_url = serializers.SerializerMethodField()
    saliency_url = serializers.SerializerMethodField()
    regions = serializers.SerializerMethodField()

    class Meta:
        model = Prediction
        fields = [
            "model",
            "model_version",
            "label",
            "confidence",
            "probabilities",
            "outcome",
            "outcome_reason",
            "ood_score",
            "gradcam_url",
            "saliency_url",
            "regions",
            "timings",
        ]

    def get_gradcam_url(self, prediction: Prediction) -> str:
        return self._map_url(prediction, "api:prediction-gradcam")

    def get_saliency_url(self, prediction: Prediction) -> str:
        return self._map_url(prediction, "api:prediction-saliency")

    def _map_url(self, prediction: Prediction, name: str) -> str:
        return _absolute(self.context, name, scan_id=prediction.scan_id, model=prediction.model_name)

    def get_regions(self, prediction: Prediction) -> dict:
        return {"gradcam": prediction.gradcam_stats, "saliency": prediction.saliency_stats}


class ExplanationOutput(serializers.ModelSerializer):
    reason = serializers.CharField(
        source="error",
        help_text="Why the text is not Gemini's (no key, privacy setting, or the failure that made it a fallback).",
    )

    class Meta:
        model = Explanation
        fields = [
            "provider",
            "model",
            "prompt_version",
            "status",
            "content",
            "text",
            "is_fallback",
            "reason",
            "created_at",
        ]


class FinalResultOutput(serializers.Serializer):
    source = serializers.ChoiceField(
        choices=["review", "model"], help_text="`review` when a reviewer has given a verdict, else `model`."
    )
    verdict = serializers.CharField(
        help_text="The latest review's verdict (agree, corrected, not_brain_mri, non_diagnostic, other_pathology), "
        "or the model's outcome (classified, uncertain, refused)."
    )
    label = serializers.CharField(allow_null=True, help_text="The final class, or null when the result is not one.")
    model_outcome = serializers.CharField(help_text="What the model said: classified, uncertain or refused.")
    model_label = serializers.CharField(allow_null=True, help_text="The model's class; null unless it called one.")
    reviewed_by = serializers.CharField(allow_null=True)
    reviewed_at = serializers.DateTimeField(allow_null=True)
    changed = serializers.BooleanField(help_text="True when the reviewer's result differs from the model's.")


class ReviewInput(serializers.Serializer):
    verdict = serializers.ChoiceField(choices=Review.Verdict.choices)
    corrected_label = serializers.ChoiceField(
        choices=[("", "")] + [(c, c) for c, _ in Review._meta.get_field("corrected_label").choices],
        required=False,
        default="",
        help_text="One of the four classes; only with `corrected`.",
    )
    notes = serializers.CharField(
        required=False, allow_blank=True, default="", help_text="Required for `other_pathology`."
    )


class AssignmentInput(serializers.Serializer):
    assignee = serializers.CharField(
        allow_null=True,
        help_text="The username of an active reviewer of the patient's team, or null: back to the shared queue.",
    )


class ReviewOutput(serializers.ModelSerializer):
    reviewer = serializers.CharField(source="reviewer.get_username")

    class Meta:
        model = Review
        fields = ["id", "verdict", "corrected_label", "notes", "reviewer", "created_at"]


class DuplicateOfOutput(serializers.Serializer):
    id = serializers.IntegerField(help_text="The earlier scan of the same image.")
    url = serializers.URLField(help_text="That scan in the API.")


class ScanOutput(serializers.ModelSerializer):
    image_url = serializers.SerializerMethodField()
    predictions = PredictionOutput(many=True, read_only=True)
    explanation = serializers.SerializerMethodField()
    final_result = serializers.SerializerMethodField()
    assigned_to = serializers.SlugRelatedField(
        slug_field="username",
        read_only=True,
        help_text="The reviewer this scan is assigned to for review (set on the scan page), or null.",
    )
    duplicate_of = serializers.SerializerMethodField(
        help_text="The first earlier scan of this patient uploaded with the very same bytes (PNG or JPEG; "
        "same sha256), or null. The upload was accepted all the same: check that the image is not "
        "counted twice. DICOM slices are always null (a series re-sent is de-duplicated instead)."
    )

    class Meta:
        model = Scan
        fields = [
            "id",
            "patient",
            "status",
            "error",
            "created_at",
            "updated_at",
            "acquisition_date",
            "requested_models",
            "exam",
            "dicom",
            "width",
            "height",
            "image_url",
            "predictions",
            "explanation",
            "final_result",
            "assigned_to",
            "duplicate_of",
        ]

    def get_image_url(self, scan: Scan) -> str:
        return _absolute(self.context, "api:scan-image", scan_id=scan.pk)

    @extend_schema_field(ExplanationOutput(allow_null=True))
    def get_explanation(self, scan: Scan) -> dict | None:
        """Null until the explanation is written (while it runs, its row is only a claim)."""
        explanation = getattr(scan, "explanation", None)
        if explanation is None or explanation.status == Explanation.Status.PENDING:
            return None
        return ExplanationOutput(explanation).data

    @extend_schema_field(FinalResultOutput(allow_null=True))
    def get_final_result(self, scan: Scan) -> dict | None:
        """The latest review's verdict when there is one, else the model's outcome; null until
        there is either."""
        if not hasattr(scan, "final_key"):
            # A scan just created by an upload was not read through a selector.
            scan = with_final_result(Scan.objects.filter(pk=scan.pk)).get()
        result = final_result_of(scan)
        if result is None:
            return None
        return FinalResultOutput(result).data

    @extend_schema_field(DuplicateOfOutput(allow_null=True))
    def get_duplicate_of(self, scan: Scan) -> dict | None:
        if hasattr(scan, "earlier_copy_id"):
            # Annotated by the list selector (scans.duplicates.with_earlier_copy): no query per scan.
            earlier_id = scan.earlier_copy_id
        else:
            earlier = earlier_copy_of(scan)
            earlier_id = earlier.pk if earlier is not None else None
        if earlier_id is None:
            return None
        return {"id": earlier_id, "url": _absolute(self.context, "api:scan-detail", scan_id=earlier_id)}


class SeriesUploadOutput(serializers.Serializer):
    """An upload that made several slices (a DICOM series, a multi-frame file, or a zip)."""

    exam = serializers.IntegerField(help_text="The exam the slices belong to (the first, when a zip held several).")
    exams = serializers.ListField(child=serializers.IntegerField())
    scans = ScanOutput(many=True)
    skipped = serializers.ListField(
        child=serializers.CharField(), help_text="Files of the zip that made no slice, and why."
    )
