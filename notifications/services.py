"""Writes of the notifications pages."""

from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from notifications.models import EmailPreference, Notification


def notification_mark_read(*, user: User, notification_id: int) -> Notification:
    """Marks one of the user's notifications read; another user's is a 404."""
    notification = get_object_or_404(Notification, pk=notification_id, recipient=user)
    if notification.read_at is None:
        notification.read_at = timezone.now()
        notification.save(update_fields=["read_at"])
    return notification


def notifications_mark_all_read(*, user: User) -> int:
    return Notification.objects.filter(recipient=user, read_at__isnull=True).update(read_at=timezone.now())


def email_preference_set(*, user: User, email_when_batch_done: bool) -> EmailPreference:
    preference, _ = EmailPreference.objects.update_or_create(
        user=user, defaults={"email_when_batch_done": email_when_batch_done}
    )
    return preference


def assignment_notify(*, scan_id: int, assignee: User, by: User) -> Notification:
    """Tells a reviewer that a colleague gave them a scan to review (ids only, no patient data)."""
    return Notification.objects.create(
        recipient=assignee,
        message=f"{by.get_username()} assigned scan {scan_id} to you for review.",
        link=reverse("scans:scan-detail", args=[scan_id]),
    )
