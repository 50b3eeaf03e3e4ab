import factory
from django.core.files.storage import default_storage

from accounts.models import Team, User
from scans.ml.classes import CLASS_NAMES
from scans.models import Outcome, Patient, Prediction, Review, Scan
from scans.storage import INCOMING_FOLDER, OVERLAY_FOLDER, SCAN_FOLDER, image_store
from tests.images import png_bytes


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"Team {n}")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.django.Password("a-long-test-password")

    @factory.post_generation
    def teams(self, create, teams, **kwargs):
        for team in teams or ():
            team.members.add(self)


class PatientFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Patient

    team = factory.SubFactory(TeamFactory)
    medical_record_number = factory.Sequence(lambda n: f"MRN-{n:06d}")
    display_name = factory.Sequence(lambda n: f"Patient Name {n}")
    created_by = factory.SubFactory(UserFactory)


class ScanFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Scan

    patient = factory.SubFactory(PatientFactory)
    uploaded_by = factory.SelfAttribute("patient.created_by")
    image = factory.LazyFunction(lambda: image_store(png=png_bytes(), folder=SCAN_FOLDER))
    original_filename = "scan.png"
    # Distinct per scan: two equal digests for one patient are the same image uploaded twice (scans.duplicates).
    sha256 = factory.Sequence(lambda n: f"{n:064x}")
    width = 64
    height = 64
    requested_models = factory.LazyFunction(lambda: ["custom_cnn"])


class PredictionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Prediction

    scan = factory.SubFactory(ScanFactory, status=Scan.Status.DONE)
    model_name = "custom_cnn"
    model_version = "a" * 64
    label = "glioma"
    confidence = 0.7
    # The called class gets the confidence, the others share the rest, as a softmax would.
    probabilities = factory.LazyAttribute(
        lambda o: {name: o.confidence if name == o.label else (1 - o.confidence) / 3 for name in CLASS_NAMES}
    )
    gradcam = factory.LazyFunction(lambda: image_store(png=png_bytes(mode="RGB"), folder=OVERLAY_FOLDER))
    saliency = factory.LazyFunction(lambda: image_store(png=png_bytes(mode="RGB"), folder=OVERLAY_FOLDER))
    timings = factory.LazyFunction(lambda: {"inference": 10.0, "total_ms": 50.0})
    outcome = Outcome.CLASSIFIED

    class Params:
        # What the engine's out-of-distribution check and abstention write (issue 9).
        refused = factory.Trait(
            outcome=Outcome.REFUSED,
            outcome_reason="Not recognised as a brain MRI slice: colour photograph.",
            ood_score=41.2,
            label="notumor",
            confidence=0.97,
            probabilities=factory.LazyFunction(lambda: dict(zip(CLASS_NAMES, (0.01, 0.01, 0.97, 0.01), strict=True))),
        )
        uncertain = factory.Trait(
            outcome=Outcome.UNCERTAIN,
            outcome_reason="The model is not sure enough to call a class.",
            ood_score=3.0,
            confidence=0.55,
            probabilities=factory.LazyFunction(lambda: dict(zip(CLASS_NAMES, (0.55, 0.40, 0.03, 0.02), strict=True))),
        )


class ReviewFactory(factory.django.DjangoModelFactory):
    """A review row as the service writes it (tests of the service itself call scan_review)."""

    class Meta:
        model = Review

    scan = factory.SubFactory(ScanFactory, status=Scan.Status.DONE)
    reviewer = factory.SubFactory(UserFactory, role="reviewer", is_staff=True)
    verdict = Review.Verdict.AGREE
    corrected_label = ""
    notes = ""


def stored_files() -> list[str]:
    """Every file in private storage, for "no file was written" assertions."""
    found = []
    for folder in (INCOMING_FOLDER, SCAN_FOLDER, OVERLAY_FOLDER):
        if default_storage.exists(folder):
            found += [f"{folder}/{name}" for name in default_storage.listdir(folder)[1]]
    return found
