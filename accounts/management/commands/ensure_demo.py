from django.conf import settings
from django.core.management.base import BaseCommand

from accounts.services import demo_account_ensure


class Command(BaseCommand):
    help = "Create or update the demo team and clinician (DEMO_USERNAME / DEMO_PASSWORD)."

    def handle(self, *args, **options) -> None:
        account = demo_account_ensure(username=settings.DEMO_USERNAME, password=settings.DEMO_PASSWORD)
        verb = "Created" if account.created else "Updated"
        self.stdout.write(f"{verb} demo clinician in team '{account.team.name}'.")
        if settings.DEMO_PASSWORD:
            self.stdout.write(f"Log in as '{account.username}' with DEMO_PASSWORD.")
        elif not account.password:
            self.stdout.write(
                f"Log in as '{account.username}' with its password (set when it was created and kept since; "
                "set DEMO_PASSWORD to choose one)."
            )
        else:
            self.stdout.write(
                f"Log in as '{account.username}' with password '{account.password}' "
                "(set DEMO_USERNAME / DEMO_PASSWORD to choose your own)."
            )
