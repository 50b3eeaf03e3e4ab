from django.contrib import admin

from audit.models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """Read-only for everyone, superusers included: nobody can add, change or delete an event.

    Staff see the events about their own teams' patients (a patient's access log is this list
    filtered by ?patient_id=…, linked from the patient's admin page); superusers see all.
    """

    list_display = ("at", "actor", "action", "object_type", "object_id", "patient_id", "ip_address")
    list_filter = ("action", "object_type")
    list_select_related = ("actor",)
    search_fields = ("object_id", "actor__username")

    def get_queryset(self, request):
        from scans.selectors import patients_visible_to

        events = super().get_queryset(request)
        if request.user.is_superuser:
            return events
        return events.filter(patient_id__in=patients_visible_to(request.user).values("pk"))

    def has_module_permission(self, request) -> bool:
        return request.user.is_active and request.user.is_staff

    def has_view_permission(self, request, obj=None) -> bool:
        return request.user.is_active and request.user.is_staff

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
