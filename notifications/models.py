"""Upload batches, the notification each finished batch leaves its uploader, and who wants email."""

import uuid

from django.conf import settings
from django.db import models


class UploadBatch(models.Model):
    """The scans one person uploaded in one go: a form, a DICOM zip, or the upload page's files.

    `closed_at` says no scan will join any more (the upload is over); the batch is finished
    when it is closed and every scan in it is done or failed. `notified_at` makes the
    notification happen once, however many workers notice the end at the same time."""

    key = models.UUIDField(default=uuid.uuid4, editable=False, help_text="The client's name for the batch.")
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="upload_batches")
    scans = models.ManyToManyField("scans.Scan", related_name="upload_batches")
    created_at = models.DateTimeField(auto_now_add=True)
    last_added_at = models.DateTimeField(auto_now_add=True)
    closed_at = models.DateTimeField(null=True, blank=True, db_index=True)
    notified_at = models.DateTimeField(null=True, blank=True, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["uploaded_by", "key"], name="one_batch_per_client_key")]

    def __str__(self) -> str:
        return f"Upload batch {self.pk}"


class Notification(models.Model):
    """An in-app message. Counts and a link only: never a patient's name or record number."""

    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    # One notification per batch, enforced by the database.
    batch = models.OneToOneField(
        UploadBatch, on_delete=models.SET_NULL, null=True, blank=True, related_name="notification"
    )
    message = models.CharField(max_length=300)
    link = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["recipient", "read_at"], name="notification_unread")]

    def __str__(self) -> str:
        return f"Notification {self.pk} for user {self.recipient_id}"


class EmailPreference(models.Model):
    """A user's choice about email; no row means the defaults (email on)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_preference"
    )
    email_when_batch_done = models.BooleanField(
        default=True, help_text="Send an email when every scan of an upload is done or failed."
    )

    def __str__(self) -> str:
        return f"Email preference of user {self.user_id}"
