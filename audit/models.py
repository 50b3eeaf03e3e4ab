"""An append-only record of who viewed or changed which patient or scan, when and from where.

Every event names the patient whose data it touched (`patient_id`), so "who saw this
patient?" is one indexed query (the patient's access log in the admin)."""

from django.conf import settings
from django.db import models


class AuditEventQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise PermissionError("Audit events cannot be changed.")

    def delete(self):
        raise PermissionError("Audit events cannot be deleted.")


class AuditEvent(models.Model):
    class Action(models.TextChoices):
        VIEW = "view", "Viewed"
        LIST = "list", "Saw in a list"
        DOWNLOAD = "download", "Downloaded an image"
        CREATE = "create", "Created"
        CHANGE = "change", "Changed"
        REVIEW = "review", "Reviewed"
        ASSIGN = "assign", "Assigned for review"
        RERUN = "rerun", "Re-ran the classification"
        REGENERATE = "regenerate", "Regenerated the explanation"
        DELETE = "delete", "Deleted"
        EXPORT = "export", "Exported (PDF report or CSV)"
        # A possible wrong-patient upload the user chose to let through (issue 12): its own
        # event, so "who overrode a Patient ID mismatch?" is one query.
        IDENTIFIERS_OVERRIDE = "ids_override", "Uploaded despite the file's different Patient ID"

    at = models.DateTimeField(auto_now_add=True, db_index=True)
    # PROTECT: a user who appears in the trail cannot be deleted and take their history along.
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="audit_events")
    action = models.CharField(max_length=16, choices=Action.choices)
    object_type = models.CharField(max_length=32)
    object_id = models.CharField(max_length=64)
    # A plain id, not a foreign key: the trail outlives the rows it describes.
    patient_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-at"]
        indexes = [models.Index(fields=["object_type", "object_id"])]

    def __str__(self) -> str:
        return f"{self.actor_id} {self.action} {self.object_type} {self.object_id}"

    def save(self, *args, **kwargs) -> None:
        if self.pk is not None:
            raise PermissionError("Audit events cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionError("Audit events cannot be deleted.")
