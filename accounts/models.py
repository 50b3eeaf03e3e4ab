"""Users and the teams that own patients."""

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models


class User(AbstractUser):
    """A person who logs in by username.

    The role is what they do, not what they may see: visibility comes only from team
    membership (scans.selectors). Staff reviewers review and correct results; clinicians and
    researchers upload and read them.
    """

    class Role(models.TextChoices):
        CLINICIAN = "clinician", "Clinician"
        RESEARCHER = "researcher", "Researcher"
        REVIEWER = "reviewer", "Staff reviewer"

    role = models.CharField(max_length=16, choices=Role.choices, default=Role.CLINICIAN)

    @property
    def is_reviewer(self) -> bool:
        return self.role == self.Role.REVIEWER

    def save(self, *args, **kwargs) -> None:
        # Here rather than in a view: the admin, set_password(), `changepassword` and
        # deactivation by any path all end in save(), and each must end the API tokens.
        update_fields = kwargs.get("update_fields")
        watched = update_fields is None or {"password", "is_active"} & set(update_fields)
        before = None
        if self.pk and watched:
            before = type(self).objects.filter(pk=self.pk).values("password", "is_active").first()
        super().save(*args, **kwargs)
        if before and (before["password"] != self.password or (before["is_active"] and not self.is_active)):
            from accounts.services import api_tokens_revoke

            api_tokens_revoke(user=self)


class Team(models.Model):
    """A group of users who share a set of patients."""

    name = models.CharField(max_length=120, unique=True)
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="teams", blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name
