"""What an admin page of patient data adds to the audit trail: one event per change page
opened, one per save or deletion, and a link to the patient's access log."""

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from audit.models import AuditEvent
from audit.services import audit_record, patient_id_of


class AuditedAdmin:
    """Mix into a ModelAdmin whose rows are patient data."""

    def change_view(self, request, object_id, form_url="", extra_context=None):
        response = super().change_view(request, object_id, form_url, extra_context)
        if request.method == "GET" and response.status_code == 200:
            obj = self.get_object(request, object_id)
            if obj is not None:
                audit_record(request=request, action=AuditEvent.Action.VIEW, obj=obj)
        return response

    def save_model(self, request, obj, form, change) -> None:
        super().save_model(request, obj, form, change)
        action = AuditEvent.Action.CHANGE if change else AuditEvent.Action.CREATE
        audit_record(request=request, action=action, obj=obj)

    def delete_model(self, request, obj) -> None:
        # Recorded first: afterwards the row and its id are gone.
        audit_record(request=request, action=AuditEvent.Action.DELETE, obj=obj)
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset) -> None:
        for obj in queryset:
            audit_record(request=request, action=AuditEvent.Action.DELETE, obj=obj)
        super().delete_queryset(request, queryset)

    @admin.display(description="access log")
    def access_log(self, obj) -> str:
        if obj is None or obj.pk is None:
            return "—"
        url = reverse("admin:audit_auditevent_changelist") + f"?patient_id={patient_id_of(obj)}"
        return format_html('<a href="{}">Who saw or changed this patient</a>', url)
