from django.contrib import admin
from django.db import transaction
from django.utils.translation import gettext_lazy as _

from certification.admin import NoDeleteAdmin
from certification.services.audit import audit_record_many

from .models import EmailState, Notification, Occurrence, Preference


@admin.register(Notification)
class NotificationAdmin(NoDeleteAdmin):
    list_display = ("created_at", "kind", "recipient", "email", "email_state", "email_attempts", "read_at")
    list_filter = ("email_state", "kind")
    search_fields = ("key", "recipient__username", "email")
    readonly_fields = ("key", "recipient", "email", "language", "kind", "params", "case", "read_at", "emailed_at",
                       "email_attempts", "email_error", "created_at")
    fields = readonly_fields + ("email_state", "email_next_attempt_at")
    actions = ["retry_email"]

    @admin.action(description=_("Send the e-mail again"))
    def retry_email(self, request, queryset):
        with transaction.atomic():
            chosen = list(queryset.exclude(recipient__isnull=True, email="").select_for_update())
            Notification.objects.filter(pk__in=[n.pk for n in chosen]).update(
                email_state=EmailState.PENDING, email_attempts=0, email_next_attempt_at=None)
            audit_record_many(actor=request.user, action="admin.change", targets=chosen,
                              after={"email_state": EmailState.PENDING, "email_attempts": 0})

    def has_add_permission(self, request):
        return False


@admin.register(Occurrence)
class OccurrenceAdmin(NoDeleteAdmin):
    list_display = ("occurred_at", "kind", "key")
    list_filter = ("kind",)
    search_fields = ("key",)
    readonly_fields = ("key", "kind", "occurred_at")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Preference)
class PreferenceAdmin(NoDeleteAdmin):
    list_display = ("user", "kind", "email")
    list_filter = ("kind", "email")
