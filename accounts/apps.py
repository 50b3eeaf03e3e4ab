from django.apps import AppConfig, apps
from django.db.models.signals import post_migrate


def _ensure_reviewers_group(**kwargs) -> None:
    from accounts.services import reviewers_group_ensure

    reviewers_group_ensure()


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts and teams"

    def ready(self) -> None:
        # After the scans app's migrations: by then django.contrib.auth (connected first) has
        # created the scans permissions the group is given.
        post_migrate.connect(
            _ensure_reviewers_group, sender=apps.get_app_config("scans"), dispatch_uid="reviewers_group"
        )
