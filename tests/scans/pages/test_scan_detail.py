"""The scan page: the final result first, then the image and its heat maps, the probabilities
and the explanation; self-updating while pending; the review form and history for staff
reviewers; refused and uncertain results that never look like a class."""

import pytest

from audit.models import AuditEvent
from scans.models import Explanation, Review, Scan
from tests.factories import PatientFactory, PredictionFactory, ReviewFactory, ScanFactory

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
    assert "called <strong>Meningioma</strong>, 81 %" in body
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


def test_the_hot_area_caption_places_it_in_the_head_not_the_frame(client, owner, patient):
    stats = {"quadrant": "upper-right", "hot_fraction": 0.05, "side": "right", "vertical": "upper"}
    scan = PredictionFactory(scan__patient=patient, gradcam_stats=stats).scan
    client.force_login(owner)
    body = client.get(f"/scans/{scan.pk}/").content.decode()
    assert "Hot area: upper-right of the head as pictured, 5.0 % of the image." in body


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
    assert "Timings of Custom CNN: 50 ms in the worker" in body
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
        f"/scans/{done_scan.pk}/review/", {"verdict": "corrected", "corrected_label": "pituitary", "notes": "Sella."}
    )
    assert response.status_code == 302
    review = Review.objects.get()
    assert (review.verdict, review.corrected_label, review.reviewer) == ("corrected", "pituitary", staff_reviewer)
    body = client.get(f"/scans/{done_scan.pk}/").content.decode()
    header = body.split('id="result-heading"')[1].split("</section>")[0]
    assert "Final result — reviewed" in header
    assert '<span class="label label-pituitary">Pituitary tumour</span>' in header
    assert "model said Uncertain" in header  # the two models disagreed
    assert "Corrected to <strong>Pituitary tumour</strong>" in body


def test_correcting_without_a_class_is_a_field_error(client, staff_reviewer, done_scan):
    client.force_login(staff_reviewer)
    response = client.post(f"/scans/{done_scan.pk}/review/", {"verdict": "corrected"})
    assert response.status_code == 400
    assert response.context["review_form"].errors["corrected_label"] == ["Give the correct class."]
    assert not Review.objects.exists()


def test_a_clinician_posting_a_review_is_refused(client, owner, done_scan):
    client.force_login(owner)
    response = client.post(f"/scans/{done_scan.pk}/review/", {"verdict": "agree"})
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


@pytest.fixture
def single(patient):
    return PredictionFactory(scan__patient=patient, label="meningioma", confidence=0.999).scan


def test_the_header_shows_the_models_result_first_and_honestly(client, owner, single):
    client.force_login(owner)
    body = client.get(f"/scans/{single.pk}/").content.decode()
    header = body.split('id="result-heading"')[1].split("</section>")[0]
    assert "Model result — not reviewed yet" in header
    assert '<span class="label label-meningioma">Meningioma</span>' in header
    assert "&gt; 99 %" in header
    assert "100.0 %" not in body and "99.9 %" not in body
    # The image comes before the probabilities and the explanation.
    assert body.index('class="card viewer"') < body.index('id="probabilities-heading"') < body.index('id="explanation"')


def test_a_reviewed_scan_keeps_its_review_history_newest_first(client, owner, staff_reviewer, single):
    ReviewFactory(scan=single, reviewer=staff_reviewer, verdict="agree", notes="First look.")
    ReviewFactory(scan=single, reviewer=staff_reviewer, verdict="other_pathology", notes="Cavernoma, not a meningioma.")
    client.force_login(owner)
    body = client.get(f"/scans/{single.pk}/").content.decode()
    header = body.split('id="result-heading"')[1].split("</section>")[0]
    assert "Other pathology" in header and "Cavernoma, not a meningioma." in header
    assert "model said Meningioma" in header
    history = body.split('id="review-heading"')[1]
    assert (
        history.index("In force:")
        < history.index("Cavernoma")
        < history.index("Superseded:")
        < history.index("First look.")
    )
    assert "is not updated by a review" in body  # the explanation says whose answer it explains


def test_a_refused_scan_shows_the_reason_and_the_image_but_no_class(client, owner, patient):
    scan = PredictionFactory(scan__patient=patient, refused=True).scan
    client.force_login(owner)
    body = client.get(f"/scans/{scan.pk}/").content.decode()
    assert "Not recognised as a brain MRI slice" in body
    assert "Not recognised as a brain MRI slice: colour photograph." in body
    assert "If this is one, check that it is upright (a slice turned on its side is often refused)" in body
    assert f'src="/api/v1/scans/{scan.pk}/image/"' in body
    for absent in ("No tumour", "label-notumor", 'data-chart="probabilities"', "gradcam", "Grad-CAM", "raw answer"):
        assert absent not in body


def test_staff_may_expand_a_refused_scans_raw_answer(client, staff_reviewer, patient):
    scan = PredictionFactory(scan__patient=patient, refused=True).scan
    client.force_login(staff_reviewer)
    body = client.get(f"/scans/{scan.pk}/").content.decode()
    assert "<summary>Staff: the model's raw answer (not a result)</summary>" in body
    assert "out-of-distribution score 41.2" in body
    assert 'data-chart="probabilities"' not in body


def test_an_uncertain_scan_shows_its_probabilities_under_uncertain_and_no_badge(client, owner, patient):
    scan = PredictionFactory(scan__patient=patient, uncertain=True).scan
    client.force_login(owner)
    body = client.get(f"/scans/{scan.pk}/").content.decode()
    header = body.split('id="result-heading"')[1].split("</section>")[0]
    assert '<span class="label label-uncertain">Uncertain</span> needs a radiologist\'s read' in header
    assert "label-glioma" not in header and "%" not in header
    assert "Uncertain — the model's probabilities" in body
    assert "leaned to Glioma (55 %) without calling it" in body


def test_a_reviewer_gets_the_next_scan_in_the_queue_after_saving(client, staff_reviewer, patient, single):
    riskier = PredictionFactory(scan__patient=patient, uncertain=True).scan
    client.force_login(staff_reviewer)
    response = client.post(f"/scans/{single.pk}/review/", {"verdict": "agree"}, follow=True)
    body = response.content.decode()
    assert "Review saved." in body
    assert f'href="/scans/{riskier.pk}/">Next in queue: scan {riskier.pk} →</a>' in body


def test_other_pathology_without_notes_is_a_field_error(client, staff_reviewer, single):
    client.force_login(staff_reviewer)
    response = client.post(f"/scans/{single.pk}/review/", {"verdict": "other_pathology"})
    assert response.status_code == 400
    assert response.context["review_form"].errors["notes"] == ["Say which pathology you see."]


def test_the_image_viewer_offers_original_grad_cam_and_saliency_with_a_colour_scale(client, owner, single):
    client.force_login(owner)
    body = client.get(f"/scans/{single.pk}/").content.decode()
    for value in ("original", "gradcam", "saliency"):
        assert f'value="{value}" data-layer-for="viewer-custom_cnn"' in body
    assert 'class="scale-bar scale-jet"' in body and 'class="scale-bar scale-hot"' in body
    assert "data-enlarge" in body


def test_the_grad_cam_caption_gives_the_pointing_figure_of_the_model_version_that_drew_it(client, owner, patient):
    from scans.ml import registry

    card = registry.read_card("custom_cnn")
    figure = card["localisation"]["gradcam"]["pointing_game"]
    drawn_by_installed = PredictionFactory(scan__patient=patient, model_version=card["sha256"]).scan
    drawn_by_older = PredictionFactory(scan__patient=patient, model_version="b" * 64).scan
    client.force_login(owner)
    body = " ".join(client.get(f"/scans/{drawn_by_installed.pk}/").content.decode().split())
    assert f"within 15 px of the tumour in {100 * figure:.1f} % of them" in body
    older = client.get(f"/scans/{drawn_by_older.pk}/").content.decode()
    assert "Not measured for this model version" in older and "within 15 px of the tumour in" not in older


@pytest.mark.parametrize("trait", ["refused", "uncertain"])
def test_the_review_form_offers_no_agree_when_the_model_called_no_class(client, staff_reviewer, patient, trait):
    scan = PredictionFactory(scan__patient=patient, **{trait: True}).scan
    client.force_login(staff_reviewer)
    body = client.get(f"/scans/{scan.pk}/").content.decode()
    assert 'value="not_brain_mri"' in body
    assert 'value="agree"' not in body
    response = client.post(f"/scans/{scan.pk}/review/", {"verdict": "agree"})
    assert response.status_code == 400
    assert not Review.objects.exists()


def test_a_repeated_image_says_when_it_was_first_uploaded_and_links_that_scan(client, owner, patient):
    first = ScanFactory(patient=patient, sha256="a" * 64)
    again = ScanFactory(patient=patient, sha256="a" * 64)
    client.force_login(owner)
    body = client.get(f"/scans/{again.pk}/").content.decode()
    assert "The same image was uploaded on" in body
    assert f'<a href="/scans/{first.pk}/">scan {first.pk}</a>' in body
    assert f'datetime="{first.created_at.isoformat()}"' in body


def test_the_first_upload_of_an_image_carries_no_repeat_notice(client, owner, patient):
    first = ScanFactory(patient=patient, sha256="a" * 64)
    ScanFactory(patient=patient, sha256="a" * 64)
    client.force_login(owner)
    assert "The same image was uploaded" not in client.get(f"/scans/{first.pk}/").content.decode()


def test_the_same_image_of_another_patient_carries_no_repeat_notice(client, owner, patient, team):
    ScanFactory(patient=PatientFactory(team=team, created_by=owner), sha256="a" * 64)
    scan = ScanFactory(patient=patient, sha256="a" * 64)
    client.force_login(owner)
    assert "The same image was uploaded" not in client.get(f"/scans/{scan.pk}/").content.decode()


def test_another_team_sees_neither_the_repeat_nor_its_notice(client, outsider, patient):
    ScanFactory(patient=patient, sha256="a" * 64)
    again = ScanFactory(patient=patient, sha256="a" * 64)
    client.force_login(outsider)
    response = client.get(f"/scans/{again.pk}/")
    assert response.status_code == 404
    assert "The same image was uploaded" not in response.content.decode()
