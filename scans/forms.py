"""Forms of the portal pages. They parse and validate input; services do the writing."""

from django import forms

from accounts.models import Team
from scans.final_result import RESULT_KEYS
from scans.ml import registry
from scans.ml.classes import CLASS_NAMES
from scans.models import Patient, Review, Scan
from scans.templatetags.portal import label_display, result_display
from scans.validators import not_in_the_future


def _label_choices(blank: str) -> list[tuple[str, str]]:
    return [("", blank), *((name, label_display(name)) for name in CLASS_NAMES)]


class PortalForm(forms.Form):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)


class PatientForm(PortalForm):
    team = forms.ModelChoiceField(queryset=Team.objects.none(), required=False)
    medical_record_number = forms.CharField(label="Medical record number (MRN)", max_length=64)
    display_name = forms.CharField(label="Name", max_length=200)
    sex = forms.ChoiceField(choices=[("", "Not recorded"), *Patient.Sex.choices], required=False)
    birth_year = forms.IntegerField(min_value=1900, max_value=2100, required=False)
    # Notes are for a line or a paragraph, not a document store (a 2 MB note was once accepted).
    notes = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False, max_length=10_000)

    def __init__(self, *args, teams=None, **kwargs):
        """`teams`: the teams a new patient may go into; None when editing (the team is fixed)."""
        super().__init__(*args, **kwargs)
        if teams is None or len(teams) < 2:
            del self.fields["team"]
            self.only_team = teams[0] if teams else None
        else:
            self.fields["team"].queryset = Team.objects.filter(pk__in=[t.pk for t in teams])
            self.fields["team"].required = True
            self.only_team = None

    def details(self) -> dict:
        """The cleaned fields a patient service takes."""
        return {k: v for k, v in self.cleaned_data.items() if k != "team"}

    def chosen_team(self) -> Team | None:
        return self.cleaned_data.get("team") or self.only_team


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files in one field (Django's documented recipe); the bytes are checked by
    services.scan_submit, one file at a time."""

    def clean(self, data, initial=None):
        if isinstance(data, list | tuple):
            return [super(MultipleFileField, self).clean(item, initial) for item in data]
        return [super().clean(data, initial)] if data else []


class UploadForm(PortalForm):
    patient = forms.ModelChoiceField(queryset=Patient.objects.none())
    model = forms.ChoiceField(widget=forms.RadioSelect, initial=registry.DEFAULT_MODEL)
    acquisition_date = forms.DateField(
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="When the scan was taken, if known.",
        validators=[not_in_the_future],
    )
    images = MultipleFileField(
        # Extensionless DICOM files (as PACS exports name them) can be dropped, or picked with
        # "All files"; the server decides by content, never by name.
        widget=MultipleFileInput(
            attrs={
                "accept": "image/png,image/jpeg,.dcm,.dicom,application/dicom,.zip,application/zip",
                "multiple": True,
            }
        ),
        required=False,
        help_text="PNG or JPEG brain MRI slices (up to 20 MB each), DICOM files (.dcm or without an extension), "
        "or a zip of a DICOM series or study (up to 49 MB).",
    )
    identifiers_differ_ok = forms.BooleanField(
        label="The file's identifiers differ from this patient's, upload anyway",
        required=False,
        help_text="DICOM only: the upload is refused when the files' Patient ID is not this patient's record number.",
    )

    def __init__(self, *args, patients, options, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["patient"].queryset = patients
        self.fields["patient"].label_from_instance = lambda p: f"{p.display_name} ({p.medical_record_number})"
        self.options = options
        self.fields["model"].choices = [(o.value, o.label) for o in options]

    def clean_model(self) -> str:
        value = self.cleaned_data["model"]
        option = next(o for o in self.options if o.value == value)
        if not option.available:
            raise forms.ValidationError(option.reason)
        return value


class ScanFilterForm(PortalForm):
    """The scan history's filters; they live in the URL's query string."""

    patient = forms.ModelChoiceField(queryset=Patient.objects.none(), required=False, empty_label="All patients")
    result = forms.ChoiceField(
        label="Final result",
        choices=[("", "Any result"), *((key, result_display(key)) for key in RESULT_KEYS)],
        required=False,
    )
    model = forms.ChoiceField(
        choices=[
            ("", "Any model"),
            *((name, registry.ARCHITECTURE_FACTS[name].display_name) for name in registry.MODEL_NAMES),
        ],
        required=False,
    )
    status = forms.ChoiceField(choices=[("", "Any status"), *Scan.Status.choices], required=False)
    reviewed = forms.ChoiceField(
        label="Review",
        choices=[
            ("", "Reviewed or not"),
            ("yes", "Reviewed"),
            ("no", "Not reviewed"),
            ("changed", "Model and reviewer disagree"),
        ],
        required=False,
    )
    date_from = forms.DateField(label="From", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label="To", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    sort = forms.ChoiceField(
        choices=[
            ("newest", "Newest first"),
            ("oldest", "Oldest first"),
            ("patient", "Patient name"),
            ("status", "Status"),
            ("acquired", "Acquisition date"),
        ],
        required=False,
    )

    def __init__(self, *args, patients, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["patient"].queryset = patients
        self.fields["patient"].label_from_instance = lambda p: f"{p.display_name} ({p.medical_record_number})"

    def search_arguments(self) -> dict:
        """Keyword arguments for selectors.scans_search; invalid filters are ignored."""
        self.is_valid()
        data = self.cleaned_data
        patient = data.get("patient")
        return {
            "patient_id": patient.pk if patient else None,
            "result": data.get("result", ""),
            "model": data.get("model", ""),
            "status": data.get("status", ""),
            "reviewed": data.get("reviewed", ""),
            "date_from": data.get("date_from"),
            "date_to": data.get("date_to"),
            "sort": data.get("sort") or "newest",
        }


class ReviewForm(PortalForm):
    verdict = forms.ChoiceField(
        label="Your verdict",
        choices=[
            (Review.Verdict.AGREE, "Agree with the model"),
            (Review.Verdict.CORRECTED, "Correct the class"),
            (Review.Verdict.NOT_BRAIN_MRI, "Not a brain MRI"),
            (Review.Verdict.NON_DIAGNOSTIC, "Non-diagnostic image"),
            (Review.Verdict.OTHER_PATHOLOGY, "Other pathology (say which in the notes)"),
        ],
        widget=forms.RadioSelect,
    )
    corrected_label = forms.ChoiceField(label="The correct class", choices=_label_choices("—"), required=False)
    notes = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
        help_text="Required for “Other pathology”.",
    )

    def __init__(self, *args, model_called: bool = True, **kwargs):
        """`model_called`: False when the model refused or abstained — there is no class to agree with."""
        super().__init__(*args, **kwargs)
        if not model_called:
            field = self.fields["verdict"]
            field.choices = [(value, text) for value, text in field.choices if value != Review.Verdict.AGREE]


class AssignForm(PortalForm):
    """Who is to review a scan: one of the reviewers of its patient's team, or nobody."""

    assignee = forms.ModelChoiceField(
        label="Assign to",
        queryset=None,
        required=False,
        empty_label="Nobody (the shared queue)",
        error_messages={"invalid_choice": "Choose a reviewer of this patient's team, or nobody."},
    )

    def __init__(self, *args, reviewers, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assignee"].queryset = reviewers
        self.fields["assignee"].label_from_instance = lambda user: user.get_username()
