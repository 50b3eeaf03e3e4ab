"""The `explanation` field of GET /api/v1/scans/{id}/: null while pending, then the stored
explanation, visible to the scan's team only."""

import pytest

from scans.models import Explanation
from tests.conftest import session_client, token_client
from tests.factories import PatientFactory, PredictionFactory

CONTENT = {
    "summary": "The model favours a glioma.",
    "regions": ["Hot area lower left."],
    "supporting_findings": ["Off the midline."],
    "caveats": ["Not a diagnosis."],
}


@pytest.fixture
def scan(team, owner):
    return PredictionFactory(scan__patient=PatientFactory(team=team, created_by=owner), scan__status="classified").scan


@pytest.fixture
def explanation(scan):
    return Explanation.objects.create(
        scan=scan,
        provider="offline",
        prompt_version="offline-v1",
        status="done",
        content=CONTENT,
        text="Summary\nThe model favours a glioma.",
        is_fallback=True,
        error="Gemini answered HTTP 503 UNAVAILABLE (after 4 attempts)",
    )


def explanation_field(client, scan):
    response = client.get(f"/api/v1/scans/{scan.pk}/")
    assert response.status_code == 200, response.content
    return response.json()["explanation"]


def test_it_is_null_while_the_explanation_is_pending(owner_api, scan):
    assert explanation_field(owner_api, scan) is None
    Explanation.objects.create(scan=scan, provider="gemini", model="gemini-flash-latest")
    assert explanation_field(owner_api, scan) is None


def test_it_shows_the_written_explanation(owner_api, scan, explanation):
    shown = explanation_field(owner_api, scan)
    assert set(shown) == {
        "provider",
        "model",
        "prompt_version",
        "status",
        "content",
        "text",
        "is_fallback",
        "reason",
        "created_at",
    }
    assert (shown["provider"], shown["model"], shown["status"]) == ("offline", "", "done")
    assert shown["content"] == CONTENT
    assert shown["is_fallback"] is True
    assert shown["reason"] == "Gemini answered HTTP 503 UNAVAILABLE (after 4 attempts)"


def test_a_gemini_explanation_names_its_model(owner_api, scan):
    Explanation.objects.create(
        scan=scan, provider="gemini", model="gemini-2.5-flash", status="done", content=CONTENT, text="Summary"
    )
    shown = explanation_field(owner_api, scan)
    assert (shown["provider"], shown["model"], shown["is_fallback"], shown["reason"]) == (
        "gemini",
        "gemini-2.5-flash",
        False,
        "",
    )


@pytest.mark.parametrize("who", ["owner", "teammate", "staff_reviewer"])
def test_the_team_sees_it(request, scan, explanation, who):
    user = request.getfixturevalue(who)
    for client in (token_client(user), session_client(user)):
        assert explanation_field(client, scan)["content"] == CONTENT


@pytest.mark.parametrize("who", ["outsider", "outside_superuser"])
def test_other_teams_get_a_404(request, scan, explanation, who):
    client = token_client(request.getfixturevalue(who))
    assert client.get(f"/api/v1/scans/{scan.pk}/").status_code == 404


def test_anonymous_callers_are_refused(api_client, scan, explanation):
    assert api_client.get(f"/api/v1/scans/{scan.pk}/").status_code == 401


def test_the_schema_describes_the_explanation(owner_api, db):
    schema = owner_api.get("/api/v1/schema/", {"format": "json"}).json()
    properties = schema["components"]["schemas"]["ExplanationOutput"]["properties"]
    assert {"provider", "model", "status", "content", "text", "is_fallback", "reason", "created_at"} <= set(properties)
