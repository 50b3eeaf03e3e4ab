"""The scan page: the result beside its evidence, self-updating while pending, and the review
form for staff reviewers."""

import pytest

from audit.models import AuditEvent
from scans.models import Explanation, Review, Scan
from tests.factories import PatientFactory, PredictionFactory, ScanFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def patient(team, owner):
    return PatientFactory(team=team, created_by=owner)


@pytest.fixture
def done_scan(patient):
    scan = PredictionFactory(scan__patient=patient, label="meningioma", confidence=0.81).scan
    PredictionFactory(scan=scan, model_name="xception", label="glioma")
    return scan


def test_a_pending_scan_polls_its_result_block(client, owner, patient):
    scan = ScanFactory(patient=patient, status=Scan.Status.PROCESSING)
    client.force_login(owner)
    body = client.get(f"/scans/{scan.pk}/").content.decode()
    assert f'hx-get="/scans/{scan.pk}/result/" hx-trigger="every 2s" hx-swap="outerHTML"' in body
    assert "this page updates by itself" in body
    assert "Explanation pending." in body


def test_the_polled_partial_is_the_result_block_alone(client, owner, patient):
    scan = ScanFactory(patient=patient, status=Scan.Status.QUEUED)
    client.force_login(owner)
    body = client.get(f"/scans/{scan.pk}/result/").content.decode()
    assert body.lstrip().startswith('<div id="scan-result"')
    assert "<html" not in body


def test_a_classified_scan_still_polls_for_its_explanation(client, owner, patient):
    scan = PredictionFactory(scan__patient=patient, scan__status=Scan.Status.CLASSIFIED).scan
    client.force_login(owner)
    assert "hx-trigger" in client.get(f"/scans/{scan.pk}/result/").content.decode()


def test_a_finished_scan_stops_polling_and_shows_both_models(client, owner, done_scan):
    client.force_login(owner)
    body = client.get(f"/scans/{done_scan.pk}/result/").content.decode()
    assert "hx-trigger" not in body
    assert "Meningioma</strong> with 81.0 % confidence" in body
    for model in ("custom_cnn", "xception"):
        assert f'src="/api/v1/scans/{done_scan.pk}/predictions/{model}/gradcam/"' in body
        assert f'src="/api/v1/scans/{done_scan.pk}/predictions/{model}/saliency/"' in body
        assert f'href="/models/{model}/"' in body


def test_each_heat_map_says_what_it_is_and_how_far_to_trust_it(client, owner, done_scan):
    client.force_login(owner)
    body = client.get(f"/scans/{done_scan.pk}/").content.decode()
    assert "Passes the model-randomisation sanity test" in body
    assert "Known to fail the model-randomisation sanity test" in body
    assert "mostly shows the image's edges" in body
    assert 'type="range"' in body and "Heat-map opacity" in body


def test_the_chart_gets_the_four_probabilities_of_each_model(client, owner, done_scan):
    client.force_login(owner)
    body = client.get(f"/scans/{done_scan.pk}/").content.decode()
    assert 'data-chart="probabilities"' in body
    assert "&quot;model&quot;:&quot;Custom CNN&quot;" in body
    assert (
        "&quot;labels&quot;:[&quot;Glioma&quot;,&quot;Meningioma&quot;,&quot;No tumour&quot;,&quot;Pituitary tumour&quot;]"
        in body
    )
    assert "<script>" not in body


def test_timings_and_model_version_are_shown(client, owner, done_scan):
    client.force_login(owner)
    body = client.get(f"/scans/{done_scan.pk}/").content.decode()
    assert "Timings: 50 ms in the worker" in body
    assert "aaaaaaaaaaaa" in body


def test_a_failed_scan_shows_its_reason(client, owner, patient):
    scan = ScanFactory(
        patient=patient, status=Scan.Status.FAILED, error="Classification took too long and was stopped."
    )
    client.force_login(owner)
    body = client.get(f"/scans/{scan.pk}/").content.decode()
    assert "Classification took too long and was stopped." in body
    assert "hx-trigger" not in body


def test_the_explanation_slot_shows_a_written_explanation(client, owner, done_scan):
    Explanation.objects.create(
        scan=done_scan, provider="offline", status="done", content={"summary": "A hedged summary."}
    )
    client.force_login(owner)
    body = client.get(f"/scans/{done_scan.pk}/").content.decode()
    assert "A hedged summary." in body
    assert "Offline explainer</strong> — generated without a language model" in body


def test_viewing_a_scan_is_audited(client, owner, done_scan):
    client.force_login(owner)
    client.get(f"/scans/{done_scan.pk}/")
    assert AuditEvent.objects.filter(
        actor=owner, action="view", object_type="scan", object_id=str(done_scan.pk)
    ).exists()


def test_staff_reviewers_get_the_review_form_and_clinicians_do_not(client, owner, staff_reviewer, done_scan):
    client.force_login(owner)
    assert "Save review" not in client.get(f"/scans/{done_scan.pk}/").content.decode()
    client.force_login(staff_reviewer)
    assert "Save review" in client.get(f"/scans/{done_scan.pk}/").content.decode()


def test_a_reviewer_corrects_the_label(client, staff_reviewer, done_scan):
    client.force_login(staff_reviewer)
    response = client.post(
        f"/scans/{done_scan.pk}/review/", {"agrees": "no", "corrected_label": "pituitary", "notes": "Sella."}
    )
    assert response.status_code == 302
    review = Review.objects.get()
    assert (review.agrees, review.corrected_label, review.reviewer) == (False, "pituitary", staff_reviewer)
    body = client.get(f"/scans/{done_scan.pk}/").content.decode()
    assert "Corrected to <strong>Pituitary tumour</strong>" in body


def test_disagreeing_without_a_label_is_a_field_error(client, staff_reviewer, done_scan):
    client.force_login(staff_reviewer)
    response = client.post(f"/scans/{done_scan.pk}/review/", {"agrees": "no"})
    assert response.status_code == 400
    assert response.context["review_form"].errors["corrected_label"] == ["Give the correct label when you disagree."]
    assert not Review.objects.exists()


def test_a_clinician_posting_a_review_is_refused(client, owner, done_scan):
    client.force_login(owner)
    response = client.post(f"/scans/{done_scan.pk}/review/", {"agrees": "yes"})
    assert response.status_code == 400
    assert not Review.objects.exists()


def test_a_pending_scan_shows_the_uploaded_image_meanwhile(client, owner, patient):
    scan = ScanFactory(patient=patient, status=Scan.Status.QUEUED)
    client.force_login(owner)
    body = client.get(f"/scans/{scan.pk}/").content.decode()
    assert f'<img src="/api/v1/scans/{scan.pk}/image/" alt="Scan {scan.pk} as uploaded"' in body


def test_timings_are_listed_in_the_order_the_worker_runs_them(client, owner, patient):
    timings = {"total_ms": 300.0, "storage": 1.0, "png": 5.0, "decode": 3.0, "inference": 40.0, "gradcam": 60.0}
    scan = PredictionFactory(scan__patient=patient, timings=timings).scan
    client.force_login(owner)
    body = client.get(f"/scans/{scan.pk}/").content.decode()
    positions = [
        body.index(f"<dt>{stage}</dt>") for stage in ("decode", "inference", "gradcam", "png", "storage", "total_ms")
    ]
    assert positions == sorted(positions)
