"""Writes on users and teams."""

from dataclasses import dataclass

from django.db import transaction

from accounts.models import Team, User

DEMO_TEAM_NAME = "Demo team"
DEFAULT_DEMO_USERNAME = "demo"
# Printed at every start: a demo convenience, never a real account's password.
DEFAULT_DEMO_PASSWORD = "demo-portal-2024"  # noqa: S105


@dataclass(frozen=True)
class DemoAccount:
    username: str
    password: str
    team: Team
    created: bool


@transaction.atomic
def demo_account_ensure(*, username: str = "", password: str = "") -> DemoAccount:
    """Creates or updates the demo clinician and their team; idempotent, run on every start."""
    username = username or DEFAULT_DEMO_USERNAME
    password = password or DEFAULT_DEMO_PASSWORD
    team, _ = Team.objects.get_or_create(name=DEMO_TEAM_NAME)
    user, created = User.objects.get_or_create(username=username, defaults={"role": User.Role.CLINICIAN})
    user.set_password(password)
    user.is_active = True
    user.save()
    team.members.add(user)
    return DemoAccount(username=username, password=password, team=team, created=created)
