"""Every URL pattern of the site × anonymous / other team / clinician / reviewer / view-only
staff / superuser → the status each must get.

The list of routes comes from the URL conf itself, so a new URL without a row here fails
`test_every_url_pattern_has_a_row`: whoever adds a URL decides, in this file, who may reach it.
The people: "clinician" is a member of the patient's team; "reviewer" a staff reviewer of the
team with the Reviewers group's view/change permissions; "view_only_staff" a staff member of
the team with view permissions only; "other_team" a clinician of another team; "superuser" a
superuser who is not in the team (staff flags add no visibility: the team's rows are 404 to
them on the site, and absent from their admin lists).
"""

from dataclasses import dataclass

import pytest
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib.auth.models import Group, Permission
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from knox.models import AuthToken

from accounts.models import User
from audit.models import AuditEvent
from scans.models import Exam, Scan
from tests.factories import PatientFactory, PredictionFactory, ReviewFactory, UserFactory

pytestmark = pytest.mark.django_db

ROLES = ("anonymous", "other_team", "clinician", "reviewer", "view_only_staff", "superuser")


def url_routes(patterns=None, prefix: str = "") -> list[str]:
    """Every route of the URL conf, as its pattern string (unnamed ones included)."""
    routes = []
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(pattern, URLResolver):
            routes += url_routes(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            routes.append(prefix + str(pattern.pattern))
    return routes


@dataclass(frozen=True)
class Expect:
    """Statuses in ROLES order, for GET and (where the route takes writes) an empty POST."""

    get: tuple[int, ...]
    post: tuple[int, ...] | None = None


# Shorthands for the common shapes.
LOGIN = 302  # a page sends an anonymous visitor to the login page
GONE = 404  # another team's row looks exactly like a missing one
TEAM_PAGE = Expect(get=(LOGIN, GONE, 200, 200, 200, GONE))
LIST_PAGE = Expect(get=(LOGIN, 200, 200, 200, 200, 200))
TEAM_API = Expect(get=(401, GONE, 200, 200, 200, GONE))
PUBLIC = Expect(get=(200,) * 6)
READY = frozenset({200, 503})  # readiness depends on the worker and broker, never on who asks

GRID: dict[str, Expect] = {
    # Health: no data, for load balancers and monitors.
    "healthz": Expect(get=(200,) * 6),
    "readyz": Expect(get=(READY,) * 6),
    # Django's auth views. Logging out is a POST (a GET would let any page log you out).
    "accounts/login/": PUBLIC,
    "accounts/logout/": Expect(get=(405,) * 6, post=(302,) * 6),
    "accounts/password_change/": Expect(get=(LOGIN, 200, 200, 200, 200, 200)),
    "accounts/password_change/done/": Expect(get=(LOGIN, 200, 200, 200, 200, 200)),
    "accounts/password_reset/": PUBLIC,
    "accounts/password_reset/done/": PUBLIC,
    "accounts/reset/<uidb64>/<token>/": PUBLIC,  # an invalid link: a page saying so
    "accounts/reset/done/": PUBLIC,
    # API. Tokens: obtained with a password (400 for an empty one), revoked with a login.
    "api/v1/auth/token/": Expect(get=(405,) * 6, post=(400,) * 6),
    "api/v1/auth/token/revoke/": Expect(get=(401, 405, 405, 405, 405, 405), post=(401, 204, 204, 204, 204, 204)),
    "api/v1/patients/": Expect(get=(401, 200, 200, 200, 200, 200), post=(401, 400, 400, 400, 400, 400)),
    "api/v1/patients/<int:patient_id>/scans/": Expect(get=TEAM_API.get, post=(401, GONE, 400, 400, 400, GONE)),
    "api/v1/scans/<int:scan_id>/": TEAM_API,
    "api/v1/exams/<int:exam_id>/": TEAM_API,
    # A scan's review history is the reviewers' business.
    "api/v1/scans/<int:scan_id>/reviews/": Expect(
        get=(401, GONE, 403, 200, 403, GONE), post=(401, GONE, 403, 400, 403, GONE)
    ),
    # An empty body lacks "assignee": a 400 for a reviewer, before anything is written. GET is
    # not an API method here, for anyone signed in.
    "api/v1/scans/<int:scan_id>/assignment/": Expect(
        get=(401, 405, 405, 405, 405, 405), post=(401, GONE, 403, 400, 403, GONE)
    ),
    "api/v1/scans/<int:scan_id>/image/": TEAM_API,
    "api/v1/scans/<int:scan_id>/predictions/<str:model>/gradcam/": TEAM_API,
    "api/v1/scans/<int:scan_id>/predictions/<str:model>/saliency/": TEAM_API,
    "api/v1/schema/": Expect(get=(401, 200, 200, 200, 200, 200)),
    # Pages.
    "": LIST_PAGE,
    "patients/": LIST_PAGE,
    "patients/new/": LIST_PAGE,
    "patients/<int:patient_id>/": TEAM_PAGE,
    "patients/<int:patient_id>/edit/": TEAM_PAGE,
    "upload/": LIST_PAGE,
    "scans/": LIST_PAGE,
    "scans/<int:scan_id>/": TEAM_PAGE,
    "scans/<int:scan_id>/result/": TEAM_PAGE,
    # Writes on a scan: only its team; reviewing and regenerating only for staff reviewers.
    # An empty review form is a 400 for the team before any role check; nothing is written.
    "scans/<int:scan_id>/review/": Expect(
        get=(LOGIN, 405, 405, 405, 405, 405), post=(LOGIN, GONE, 400, 400, 400, GONE)
    ),
    # An empty assignment puts the scan back in the shared queue: a 302 for a reviewer only.
    "scans/<int:scan_id>/assign/": Expect(
        get=(LOGIN, 405, 405, 405, 405, 405), post=(LOGIN, GONE, 403, 302, 403, GONE)
    ),
    "scans/<int:scan_id>/explanation/regenerate/": Expect(
        get=(LOGIN, 405, 405, 405, 405, 405), post=(LOGIN, GONE, 403, 302, 403, GONE)
    ),
    "exams/<int:exam_id>/": TEAM_PAGE,  # a DICOM series (scans.dicom)
    "review/": Expect(get=(LOGIN, 403, 403, 200, 403, 403)),
    "models/<str:name>/": LIST_PAGE,
    # Reports and exports (scans.reports): a PDF not yet rendered is a 202 "being prepared"
    # (nothing renders it here); an export streams at once.
    "scans/export.csv": LIST_PAGE,
    "scans/<int:scan_id>/report.pdf": Expect(get=(LOGIN, GONE, 202, 202, 202, GONE)),
    "patients/<int:patient_id>/report.pdf": Expect(get=(LOGIN, GONE, 202, 202, 202, GONE)),
    "exams/<int:exam_id>/report.pdf": Expect(get=(LOGIN, GONE, 202, 202, 202, GONE)),
    "patients/<int:patient_id>/export.csv": TEAM_PAGE,
    "api/v1/scans/export.csv": Expect(get=(401, 200, 200, 200, 200, 200)),
    "api/v1/scans/<int:scan_id>/report.pdf": Expect(get=(401, GONE, 202, 202, 202, GONE)),
    "api/v1/patients/<int:patient_id>/report.pdf": Expect(get=(401, GONE, 202, 202, 202, GONE)),
    "api/v1/exams/<int:exam_id>/report.pdf": Expect(get=(401, GONE, 202, 202, 202, GONE)),
    "api/v1/patients/<int:patient_id>/export.csv": TEAM_API,
    # Notifications: each person's own; the one named here exists for nobody.
    "notifications/": LIST_PAGE,
    "notifications/<int:notification_id>/read/": Expect(
        get=(LOGIN, 405, 405, 405, 405, 405), post=(LOGIN,) + (GONE,) * 5
    ),
    "notifications/read-all/": Expect(get=(LOGIN, 405, 405, 405, 405, 405), post=(LOGIN,) + (302,) * 5),
    "notifications/email/": Expect(get=(LOGIN, 405, 405, 405, 405, 405), post=(LOGIN,) + (302,) * 5),
    # Closing an upload batch: only the uploader's own key; this one is nobody's.
    "api/v1/upload-batches/<uuid:key>/close/": Expect(get=(401, 405, 405, 405, 405, 405), post=(401,) + (GONE,) * 5),
}


# The admin: one rule per kind of page, so every model's routes are covered as Django adds them.
ADMIN_LOGIN = 302  # anonymous and non-staff users are sent to the admin's login page
SCANS_MODELS = ("patient", "scan", "review")


def admin_expect(route: str) -> Expect | None:
    if not route.startswith("admin/"):
        return None
    rest = route.removeprefix("admin/")
    staff_only = (ADMIN_LOGIN, ADMIN_LOGIN, ADMIN_LOGIN)
    if rest == "login/":
        return Expect(get=(200, 200, 200, 302, 302, 302))  # staff are sent on to the index
    if rest == "logout/":
        return Expect(get=(*staff_only, 405, 405, 405), post=(302,) * 6)
    if rest in ("", "password_change/", "password_change/done/", "jsi18n/"):
        return Expect(get=(*staff_only, 200, 200, 200))
    if rest == "autocomplete/":
        return Expect(get=(*staff_only, 403, 403, 403))  # no autocomplete fields are registered
    if rest.startswith("r/"):
        return Expect(get=(*staff_only, 404, 404, 404))  # no model has get_absolute_url
    if rest.startswith("^(?P<app_label>"):
        return Expect(get=(*staff_only, 200, 200, 200))
    if rest == "(?P<url>.*)$":
        return Expect(get=(*staff_only, 404, 404, 404))
    app, model, view = _admin_model_route(rest)
    if app == "scans" and model in SCANS_MODELS:
        # Staff reviewers may view and change, never add or delete; scans and reviews are added
        # only through their services. The superuser is outside the team: the team's row does
        # not exist for them (the admin redirects to its index, saying so).
        team_row = {
            "changelist": (*staff_only, 200, 200, 200),
            "add": (*staff_only, 403, 403, 200 if model == "patient" else 403),
            "change": (*staff_only, 200, 200, 302),
            "history": (*staff_only, 200, 200, 302),
            "delete": (*staff_only, 403, 403, 403 if model == "review" else 302),
            "redirect": (*staff_only, 302, 302, 302),
        }[view]
        return Expect(get=team_row)
    if app == "audit":
        return Expect(
            get={
                "changelist": (*staff_only, 200, 200, 200),
                "add": (*staff_only, 403, 403, 403),
                "change": (*staff_only, 200, 200, 200),  # read-only
                "history": (*staff_only, 200, 200, 200),
                "delete": (*staff_only, 403, 403, 403),
                "redirect": (*staff_only, 302, 302, 302),
                "password": (*staff_only, 403, 403, 200),
            }[view]
        )
    # Users, teams, groups, tokens, lockouts: superusers only (axes' records cannot be added).
    return Expect(
        get={
            "changelist": (*staff_only, 403, 403, 200),
            "add": (*staff_only, 403, 403, 403 if app == "axes" else 200),
            "change": (*staff_only, 403, 403, 200),
            "history": (*staff_only, 403, 403, 200),
            "delete": (*staff_only, 403, 403, 200),
            "redirect": (*staff_only, 302, 302, 302),
            "password": (*staff_only, 403, 403, 200),
        }[view]
    )


def _admin_model_route(rest: str) -> tuple[str, str, str]:
    parts = rest.split("/")
    app, model = parts[0], parts[1]
    tail = "/".join(parts[2:])
    view = {
        "": "changelist",
        "add/": "add",
        "<path:object_id>/history/": "history",
        "<path:object_id>/delete/": "delete",
        "<path:object_id>/change/": "change",
        "<path:object_id>/": "redirect",
        "<id>/password/": "password",
    }[tail]
    return app, model, view


def expected(route: str) -> Expect | None:
    return GRID.get(route) or admin_expect(route)


ROUTES = url_routes()


def test_every_url_pattern_has_a_row():
    missing = [route for route in ROUTES if expected(route) is None]
    assert missing == [], "add a row to GRID in tests/security/test_url_grid.py for each"


def test_the_grid_is_not_empty_or_stale():
    assert len(ROUTES) > 60
    assert [route for route in GRID if route not in ROUTES] == []


@pytest.fixture
def world(team, other_team, owner, fake_weights):
    """One patient of the team with a finished, reviewed scan, and the six people."""
    patient = PatientFactory(team=team, created_by=owner)
    prediction = PredictionFactory(scan__patient=patient)
    review = ReviewFactory(scan=prediction.scan)
    exam = Exam.objects.create(patient=patient, uploaded_by=owner, series_key="grid")
    Scan.objects.filter(pk=prediction.scan_id).update(exam=exam)
    reviewer = UserFactory(username="grid-reviewer", role=User.Role.REVIEWER, is_staff=True, teams=[team])
    reviewer.user_permissions.add(*_scans_permissions("view", "change"))
    view_only = UserFactory(username="grid-viewer", is_staff=True, teams=[team])
    view_only.user_permissions.add(*_scans_permissions("view"))
    people = {
        "anonymous": None,
        "other_team": UserFactory(username="grid-outsider", teams=[other_team]),
        "clinician": owner,
        "reviewer": reviewer,
        "view_only_staff": view_only,
        "superuser": UserFactory(username="grid-root", is_staff=True, is_superuser=True, teams=[other_team]),
    }
    event = AuditEvent.objects.create(
        actor=owner, action="view", object_type="patient", object_id=str(patient.pk), patient_id=patient.pk
    )
    token, _ = AuthToken.objects.create(user=owner)
    lockout = {"username": "someone", "ip_address": "10.0.0.9", "user_agent": "test", "path_info": "/accounts/login/"}
    attempt = AccessAttempt.objects.create(**lockout, get_data="", post_data="", failures_since_start=1)
    access = AccessLog.objects.create(**lockout)
    failure = AccessFailureLog.objects.create(**lockout)
    ids = {
        "patient_id": patient.pk,
        "scan_id": prediction.scan_id,
        "exam_id": exam.pk,
        "model": "custom_cnn",
        "name": "custom_cnn",
        "uidb64": "MQ",
        "token": "not-a-token",
        "content_type_id": "1",
        "id": str(owner.pk),
        "notification_id": 999999,
        "key": "00000000-0000-0000-0000-000000000000",
    }
    admin_rows = {
        "patient": patient.pk,
        "scan": prediction.scan_id,
        "review": review.pk,
        "auditevent": event.pk,
        "authtoken": token.pk,
        "accessattempt": attempt.pk,
        "accesslog": access.pk,
        "accessfailurelog": failure.pk,
        "user": owner.pk,
        "team": team.pk,
        "group": Group.objects.get_or_create(name="Reviewers")[0].pk,
    }
    return people, ids, admin_rows


def _scans_permissions(*prefixes: str):
    return Permission.objects.filter(content_type__app_label="scans", codename__regex=rf"^({'|'.join(prefixes)})_")


def _url(route: str, ids: dict, admin_rows: dict, owner_pk: int) -> str:
    if route.startswith("admin/"):
        rest = route.removeprefix("admin/")
        if rest.startswith("^(?P<app_label>"):
            return "/admin/scans/"
        if rest == "(?P<url>.*)$":
            return "/admin/nothing-here/"
        if "<path:object_id>" in rest:
            model = rest.split("/")[1]
            object_id = admin_rows.get(model, owner_pk)
            rest = rest.replace("<path:content_type_id>", ids["content_type_id"]).replace(
                "<path:object_id>", str(object_id)
            )
        return "/admin/" + rest.replace("<id>", ids["id"])
    url = "/" + route
    for key, value in ids.items():
        for converter in ("int:", "str:", "uuid:", ""):
            url = url.replace(f"<{converter}{key}>", str(value))
    return url


def _client(person) -> Client:
    client = Client()
    if person is not None:
        client.force_login(person)
    return client


@pytest.mark.parametrize("route", [route for route in ROUTES if expected(route) is not None])
def test_each_person_gets_the_expected_status(route, world, owner):
    people, ids, admin_rows = world
    expect = expected(route)
    url = _url(route, ids, admin_rows, owner.pk)
    got_get = tuple(_client(people[role]).get(url).status_code for role in ROLES)
    got = {"get": got_get}
    wanted = {"get": expect.get}
    if expect.post is not None:
        got["post"] = tuple(_client(people[role]).post(url).status_code for role in ROLES)
        wanted["post"] = expect.post
    assert _matches(got, wanted), f"{url} ({', '.join(ROLES)}) got {got}"


def _matches(got: dict, wanted: dict) -> bool:
    return got.keys() == wanted.keys() and all(
        all(
            status in want if isinstance(want, frozenset) else status == want for status, want in zip(got[k], wanted[k])
        )
        for k in got
    )
