from tests.conftest import session_client


def test_the_schema_lists_every_endpoint(owner):
    response = session_client(owner).get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    for path in (
        "/api/v1/auth/token/",
        "/api/v1/auth/token/revoke/",
        "/api/v1/patients/",
        "/api/v1/patients/{patient_id}/scans/",
        "/api/v1/scans/{scan_id}/",
        "/api/v1/scans/{scan_id}/image/",
    ):
        assert path in paths


def test_the_schema_is_not_public(client, db):
    response = client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code in (401, 403)
