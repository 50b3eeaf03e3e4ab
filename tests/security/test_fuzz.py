"""Property-based fuzzing of what a client can send: whatever the input, the answer is a
success or a clear 4xx, never a 500 (the test client raises a view's exception, so a crash
fails the test)."""

import contextlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.models import User
from scans.images import ImageRejected, image_inspect
from scans.models import Scan
from tests.conftest import token_client
from tests.factories import PatientFactory, PredictionFactory, UserFactory
from tests.images import jpeg_bytes, png_bytes

pytestmark = pytest.mark.django_db

FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
# Text as a client may send it: any printable or control character, odd numbers, odd dates.
AWKWARD = st.one_of(
    st.text(st.characters(blacklist_categories=("Cs",)), max_size=120),
    st.integers().map(str),
    st.sampled_from(["", " ", "0", "-1", "9" * 40, "1e309", "NaN", "null", "\x00", "2024-02-30", "9999-12-31"]),
)
SAFE_NAME = st.text(
    st.characters(whitelist_categories=("L", "N"), whitelist_characters="._- "), min_size=1, max_size=60
)


@pytest.fixture
def api(owner, fake_weights):
    return token_client(owner)


@pytest.fixture
def patient(team, owner):
    return PatientFactory(team=team, created_by=owner)


@FUZZ
@given(data=st.binary(max_size=4096), prefix=st.sampled_from([b"", b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff"]))
def test_the_upload_check_raises_nothing_but_a_rejection(data, prefix):
    with contextlib.suppress(ImageRejected):
        image_inspect(data=prefix + data, max_bytes=20 * 1024 * 1024, max_pixels=16_000_000, min_side=64)


@FUZZ
@given(
    fields=st.dictionaries(
        st.sampled_from(["team", "medical_record_number", "display_name", "sex", "birth_year", "notes", "other"]),
        AWKWARD,
    )
)
def test_creating_a_patient_from_any_fields_is_a_201_or_a_400(api, fields):
    response = api.post("/api/v1/patients/", fields)
    assert response.status_code in (201, 400), response.content


@FUZZ
@given(
    image=st.one_of(st.binary(max_size=2048), st.sampled_from([png_bytes(), jpeg_bytes(), png_bytes(8, 8)])),
    name=SAFE_NAME,
    fields=st.dictionaries(st.sampled_from(["model", "acquisition_date", "identifiers_differ_ok", "other"]), AWKWARD),
)
def test_uploading_anything_is_a_202_or_a_400(api, patient, image, name, fields):
    response = api.post(
        f"/api/v1/patients/{patient.pk}/scans/",
        {"image": SimpleUploadedFile(name, image), **fields},
        format="multipart",
    )
    assert response.status_code in (202, 400), response.content


@FUZZ
@given(fields=st.dictionaries(st.sampled_from(["verdict", "corrected_label", "notes", "other"]), AWKWARD))
def test_reviewing_with_any_fields_is_a_201_or_a_400(team, owner, fields):
    reviewer = UserFactory(username="fuzz-reviewer", role=User.Role.REVIEWER, is_staff=True, teams=[team])
    scan = PredictionFactory(
        scan__patient=PatientFactory(team=team, created_by=owner), scan__status=Scan.Status.DONE
    ).scan
    response = token_client(reviewer).post(f"/api/v1/scans/{scan.pk}/reviews/", fields)
    assert response.status_code in (201, 400), response.content


@FUZZ
@given(
    query=st.dictionaries(
        st.sampled_from(
            ["patient", "result", "model", "status", "reviewed", "date_from", "date_to", "sort", "page", "q"]
        ),
        AWKWARD,
    )
)
def test_the_scan_and_patient_lists_answer_any_query(client, owner, query):
    client.force_login(owner)
    assert client.get("/scans/", query).status_code == 200
    assert client.get("/patients/", query).status_code == 200
    assert token_client(owner).get("/api/v1/patients/", query).status_code in (200, 404)
