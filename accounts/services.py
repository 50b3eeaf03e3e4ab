"""Writes on users and teams."""

from dataclasses import dataclass

from django.contrib.auth.models import Group, Permission
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.crypto import get_random_string

from accounts.models import Team, User

REVIEWERS_GROUP = "Reviewers"
# What the Django admin needs from a staff reviewer: to list and open the scans app's rows and
# to run its actions (re-run, regenerate the explanation, mark reviewed). Which rows they see is
# still decided by team membership (scans.selectors).
REVIEWER_APP = "scans"
REVIEWER_PERMISSION_PREFIXES = ("view_", "change_")

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
    """Creates the demo clinician and their team, or brings them up to date; run on every start.

    The printed default password is set only when the account is created: a password someone
    changed since is kept (resetting it on every start would hand the account back to anyone
    who read the README), and a deactivated account stays deactivated. A DEMO_PASSWORD given
    in the environment is applied when it differs, so its API tokens survive restarts.
    `password` in the result is empty when it was left as it was.
    """
    username = username or DEFAULT_DEMO_USERNAME
    team, _ = Team.objects.get_or_create(name=DEMO_TEAM_NAME)
    user, created = User.objects.get_or_create(username=username, defaults={"role": User.Role.CLINICIAN})
    chosen = password or (DEFAULT_DEMO_PASSWORD if created else "")
    if chosen and not user.check_password(chosen):
        user.set_password(chosen)
        user.save()
    team.members.add(user)
    return DemoAccount(username=username, password=chosen, team=team, created=created)


@dataclass(frozen=True)
class Membership:
    user: User
    team: Team
    created_user: bool
    created_team: bool
    password: str  # the password set now (given or generated); empty when it was left as it was


@transaction.atomic
def team_member_add(
    *, username: str, team_name: str, role: str | None = None, staff: bool | None = None, password: str = ""
) -> Membership:
    """Puts a user in a team, creating either when missing; idempotent.

    A new user gets `password`, or a generated one returned once so it can be printed. An
    existing user keeps their password unless one is given, and keeps their role and staff
    flag unless `role` or `staff` says otherwise. The Reviewers group follows the role.
    """
    if role is not None and role not in User.Role.values:
        raise ValidationError({"role": f"Unknown role '{role}': choose one of {', '.join(User.Role.values)}."})
    if not username.strip() or not team_name.strip():
        raise ValidationError("Give a username and a team name.")
    team, created_team = Team.objects.get_or_create(name=team_name.strip())
    user, created_user = User.objects.get_or_create(username=username.strip())
    chosen = password or (get_random_string(16) if created_user else "")
    if chosen:
        validate_password(chosen, user)
        user.set_password(chosen)
    if role is not None:
        user.role = role
    if staff is not None:
        user.is_staff = staff
    user.save()
    team.members.add(user)
    reviewer_group_sync(user=user)
    return Membership(user=user, team=team, created_user=created_user, created_team=created_team, password=chosen)


@transaction.atomic
def reviewers_group_ensure() -> Group:
    """Creates or updates the Reviewers group and puts every staff reviewer in it, and only
    them; idempotent, run after every `migrate`."""
    group, _ = Group.objects.get_or_create(name=REVIEWERS_GROUP)
    group.permissions.set(
        Permission.objects.filter(content_type__app_label=REVIEWER_APP).filter(
            codename__regex=rf"^({'|'.join(REVIEWER_PERMISSION_PREFIXES)})"
        )
    )
    group.user_set.set(User.objects.filter(role=User.Role.REVIEWER))
    return group


def reviewer_group_sync(*, user: User) -> None:
    """Puts a staff reviewer in the Reviewers group, or takes anyone else out of it."""
    group = Group.objects.filter(name=REVIEWERS_GROUP).first() or reviewers_group_ensure()
    if user.is_reviewer:
        user.groups.add(group)
    else:
        user.groups.remove(group)


def api_tokens_revoke(*, user: User) -> int:
    """Revokes every API token of `user`; returns how many there were."""
    from knox.models import AuthToken

    deleted, _ = AuthToken.objects.filter(user=user).delete()
    return deleted
