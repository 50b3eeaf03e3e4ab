from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from accounts.models import Team, User
from accounts.services import reviewer_group_sync


@admin.register(User)
class PortalUserAdmin(UserAdmin):
    fieldsets = (*UserAdmin.fieldsets, ("Portal", {"fields": ("role",)}))
    list_display = ("username", "email", "role", "is_staff", "is_active")
    list_filter = ("role", "is_staff", "is_active")

    def save_related(self, request, form, formsets, change) -> None:
        # After the form's own groups are saved, so the role decides Reviewers membership.
        super().save_related(request, form, formsets, change)
        reviewer_group_sync(user=form.instance)


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ("name", "created_at")
    search_fields = ("name",)
    filter_horizontal = ("members",)
