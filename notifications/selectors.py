"""Reads of a user's notifications and email preference."""

from django.db.models import QuerySet

from accounts.models import User
from notifications.models import EmailPreference, Notification


def notifications_of(user: User) -> QuerySet[Notification]:
    return Notification.objects.filter(recipient=user).order_by("-created_at", "-pk")


def unread_count(user: User) -> int:
    if not user.is_authenticated:
        return 0
    return Notification.objects.filter(recipient=user, read_at__isnull=True).count()


def email_preference_of(user: User) -> EmailPreference:
    """The saved preference, or the default one (not saved) when the user never chose."""
    return EmailPreference.objects.filter(user=user).first() or EmailPreference(user=user)
