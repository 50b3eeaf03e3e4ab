"""Each prediction in the API says what it may be read as: outcome, its reason, the OOD score,
and the schema explains all three."""

from tests.factories import PatientFactory, PredictionFactory


def shown_prediction(client, prediction) -> dict:
    [shown] = client.get(f"/api/v1/scans/{prediction.scan_id}/").json()["predictions"]
    return shown


def test_a_classified_prediction_has_no_reason(owner_api, team, owner):
    prediction = PredictionFactory(scan__patient=PatientFactory(team=team, created_by=owner), ood_score=1.05)
    shown = shown_prediction(owner_api, prediction)
    assert (shown["outcome"], shown["outcome_reason"], shown["ood_score"]) == ("classified", "", 1.05)


def test_a_refused_prediction_gives_its_reason_and_score_and_keeps_the_raw_answer(owner_api, team, owner):
    prediction = PredictionFactory(scan__patient=PatientFactory(team=team, created_by=owner), refused=True)
    shown = shown_prediction(owner_api, prediction)
    assert shown["outcome"] == "refused"
    assert shown["outcome_reason"].startswith("Not recognised as a brain MRI slice")
    assert shown["ood_score"] == 41.2
    assert shown["label"] == "notumor" and shown["probabilities"]["notumor"] == 0.97


def test_an_uncertain_prediction_says_so(owner_api, team, owner):
    prediction = PredictionFactory(scan__patient=PatientFactory(team=team, created_by=owner), uncertain=True)
    assert shown_prediction(owner_api, prediction)["outcome"] == "uncertain"


def test_a_prediction_made_before_the_check_has_a_null_score(owner_api, team, owner):
    prediction = PredictionFactory(scan__patient=PatientFactory(team=team, created_by=owner), ood_score=None)
    assert shown_prediction(owner_api, prediction)["ood_score"] is None


def test_the_schema_explains_outcome_reason_and_score(owner_api):
    schema = owner_api.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    fields = schema["components"]["schemas"]["PredictionOutput"]["properties"]
    assert "not recognised as a brain MRI slice" in fields["outcome"]["description"]
    assert "radiologist's read" in fields["outcome"]["description"]
    assert "empty when `classified`" in fields["outcome_reason"]["description"]
    assert "higher is stranger" in fields["ood_score"]["description"]
    assert fields["ood_score"]["nullable"] is True
