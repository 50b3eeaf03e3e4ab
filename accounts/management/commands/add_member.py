from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from accounts.models import User
from accounts.services import team_member_add


class Command(BaseCommand):
    help = (
        "Put a user in a team, creating the team and the user when missing. A new user without "
        "--password gets a generated one, printed once. Example, a staff reviewer of the demo team: "
        'manage.py add_member rev --team "Demo team" --role reviewer --staff'
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("username")
        parser.add_argument("--team", required=True, help="the team's name (created when missing)")
        parser.add_argument("--role", choices=User.Role.values, help="clinician, researcher or reviewer")
        parser.add_argument(
            "--staff",
            action="store_true",
            default=None,
            help="may log in to the admin (a staff reviewer's scan pages and actions are there)",
        )
        parser.add_argument("--password", default="", help="else kept, or generated for a new user")

    def handle(self, *args, **options) -> None:
        try:
            membership = team_member_add(
                username=options["username"],
                team_name=options["team"],
                role=options["role"],
                staff=options["staff"],
                password=options["password"],
            )
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from error
        user, team = membership.user, membership.team
        if membership.created_team:
            self.stdout.write(f"Created team '{team.name}'.")
        verb = "Created" if membership.created_user else "Updated"
        staff = " (staff: may use the admin)" if user.is_staff else ""
        self.stdout.write(f"{verb} {user.get_role_display().lower()} '{user.username}'{staff} in team '{team.name}'.")
        if membership.password and not options["password"]:
            self.stdout.write(f"Password: {membership.password} (change it after the first login).")
