"""The Django admin for reference data. Nothing is deleted from here: rows are archived instead."""

from axes.models import AccessAttempt
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.utils.translation import gettext_lazy as _
from guardian.admin import GuardedModelAdminMixin

from . import models

admin.site.site_header = _("Graded certification")
admin.site.site_title = _("Graded certification")
admin.site.index_title = _("Reference data")


class NoDeleteAdmin(admin.ModelAdmin):
    def has_delete_permission(self, request, obj=None):
        return False

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions


@admin.register(models.User)
class UserAdmin(BaseUserAdmin):
    fieldsets = (*BaseUserAdmin.fieldsets, (_("Profile"), {"fields": ("full_name", "phone", "language")}))
    list_display = ("username", "full_name", "email", "is_active", "is_staff")
    search_fields = ("username", "full_name", "email")
    actions = ["unlock_signin"]

    @admin.action(description=_("Unlock sign-in of the selected users"), permissions=["change"])
    def unlock_signin(self, request, queryset):
        from .services.signin import signin_unlock

        for user in queryset:
            signin_unlock(actor=request.user, username=user.username, reason=str(_("Unlocked in the admin")))
        self.message_user(request, _("Sign-in unlocked for %(n)d users.") % {"n": len(queryset)})

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(models.Region)
class RegionAdmin(NoDeleteAdmin):
    list_display = ("code", "name", "level", "parent")
    list_filter = ("level",)
    search_fields = ("name", "code")
    autocomplete_fields = ("parent",)


@admin.register(models.Bureau)
class BureauAdmin(GuardedModelAdminMixin, NoDeleteAdmin):
    list_display = ("name", "level", "region", "parent", "authority_suspended")
    list_filter = ("level", "authority_suspended")
    search_fields = ("name",)
    autocomplete_fields = ("region", "parent")


class SafetyIncidentInline(admin.TabularInline):
    model = models.SafetyIncident
    extra = 0
    fields = ("occurred_on", "kind", "description", "recorded_by")
    can_delete = False


@admin.register(models.Institution)
class InstitutionAdmin(GuardedModelAdminMixin, NoDeleteAdmin):
    list_display = ("name", "uscc", "level", "region", "has_system_guidance")
    list_filter = ("level", "has_system_guidance")
    search_fields = ("name", "uscc")
    autocomplete_fields = ("region", "parent")
    inlines = [SafetyIncidentInline]


@admin.register(models.SafetyIncident)
class SafetyIncidentAdmin(NoDeleteAdmin):
    list_display = ("institution", "occurred_on", "kind")
    list_filter = ("kind",)
    date_hierarchy = "occurred_on"
    autocomplete_fields = ("institution",)


class ConflictInline(admin.TabularInline):
    model = models.ConflictDeclaration
    extra = 0
    autocomplete_fields = ("institution",)
    can_delete = False


class EmploymentInline(admin.TabularInline):
    model = models.ExpertEmployment
    extra = 0
    autocomplete_fields = ("institution",)
    can_delete = False


@admin.register(models.Expert)
class ExpertAdmin(NoDeleteAdmin):
    list_display = ("name", "pool", "employer", "title", "reviewer_level", "term_starts_on", "term_ends_on")
    list_filter = ("pool", "reviewer_level")
    search_fields = ("name", "employer__name")
    autocomplete_fields = ("user", "employer", "system", "pool")
    inlines = [EmploymentInline, ConflictInline]


@admin.register(models.InstitutionMembership)
class InstitutionMembershipAdmin(NoDeleteAdmin):
    list_display = ("user", "institution", "archived_at")
    autocomplete_fields = ("user", "institution")


@admin.register(models.BureauMembership)
class BureauMembershipAdmin(NoDeleteAdmin):
    list_display = ("user", "bureau", "archived_at")
    autocomplete_fields = ("user", "bureau")


class GradeInline(admin.TabularInline):
    model = models.Grade
    extra = 0
    can_delete = False
    readonly_fields = ("code", "name", "rank", "decision", "pass_line")

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(models.Scheme)
class SchemeAdmin(NoDeleteAdmin):
    list_display = ("code", "title")


@admin.register(models.SchemeVersion)
class SchemeVersionAdmin(NoDeleteAdmin):
    """Versions are loaded from scheme files (manage.py load_scheme), never edited: a version never changes."""

    list_display = ("scheme", "number", "title", "effective_from", "is_current", "digest")
    list_filter = ("scheme", "is_current")
    readonly_fields = ("scheme", "number", "title", "source", "effective_from", "digest", "loaded_from",
                       "is_current")
    exclude = ("spec",)
    inlines = [GradeInline]

    def has_add_permission(self, request):
        return False


class SubCriterionInline(admin.TabularInline):
    model = models.RubricSubCriterion
    extra = 0
    can_delete = False
    readonly_fields = ("code", "text", "points", "key")
    fields = readonly_fields

    def has_add_permission(self, request, obj=None):
        return False


class ReadOnlyAdmin(NoDeleteAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(models.RubricCategory)
class RubricCategoryAdmin(ReadOnlyAdmin):
    list_display = ("version", "rubric", "code", "name", "max_points")
    list_filter = ("version", "rubric")


@admin.register(models.RubricItem)
class RubricItemAdmin(ReadOnlyAdmin):
    list_display = ("code", "name", "category", "rubric", "version", "max_points", "rule_kind", "key")
    list_select_related = ("category__version__scheme",)

    @admin.display(description=_("rubric"), ordering="category__rubric")
    def rubric(self, obj):
        return obj.category.rubric

    @admin.display(description=_("version"), ordering="category__version")
    def version(self, obj):
        return obj.category.version
    list_filter = ("category__version", "category__rubric", "rule_kind", "key")
    search_fields = ("name", "code")
    inlines = [SubCriterionInline]


class GradeFilter(admin.AllValuesFieldListFilter):
    """Grades by name, once each, whatever the version."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.title = _("grade")


@admin.register(models.Certificate)
class CertificateAdmin(NoDeleteAdmin):
    """Certificates are issued and change state through the process; here they are read."""

    list_display = ("number", "institution", "grade", "kind", "issued_on", "valid_until", "status")
    list_filter = ("status", ("grade__name", GradeFilter), "kind", "year")
    list_select_related = ("institution", "grade")
    search_fields = ("number", "institution__name")
    date_hierarchy = "issued_on"
    readonly_fields = [f.name for f in models.Certificate._meta.fields]

    def has_add_permission(self, request):
        return False


@admin.register(models.AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    """The audit log, read-only: entries are written by the services and never changed."""

    list_display = ("id", "at", "actor", "action", "target_repr", "reason")
    list_filter = ("action", "target_type")
    search_fields = ("target_repr", "reason", "action")
    date_hierarchy = "at"
    readonly_fields = [f.name for f in models.AuditEntry._meta.fields]


class CasePrerequisiteInline(admin.TabularInline):
    model = models.CasePrerequisite
    extra = 0
    can_delete = False
    readonly_fields = ("code", "answer", "evidence")
    fields = readonly_fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(models.Case)
class CaseAdmin(ReadOnlyAdmin):
    """Cases move through their process; here they are only read."""

    list_display = ("reference", "institution", "grade", "kind", "bureau", "stage", "outcome", "declared_at")
    list_filter = ("stage", "outcome", "kind", "year")
    search_fields = ("reference", "institution__name")
    list_select_related = ("institution", "grade", "bureau")
    readonly_fields = [f.name for f in models.Case._meta.fields]
    inlines = [CasePrerequisiteInline]


@admin.register(models.LateInclusion)
class LateInclusionAdmin(ReadOnlyAdmin):
    """Late declarations the bureaus included by hand: granted and withdrawn on the bureau's page, read here."""

    list_display = ("institution", "bureau", "year", "declare_by", "granted_by", "granted_at", "case")
    list_filter = ("year",)
    search_fields = ("institution__name", "reason")
    list_select_related = ("institution", "bureau", "granted_by", "case")
    readonly_fields = [f.name for f in models.LateInclusion._meta.fields]


@admin.register(models.SummarySubmission)
class SummarySubmissionAdmin(ReadOnlyAdmin):
    """Annual summaries as the city bureaus sent them; a corrected re-send archives the one before it."""

    list_display = ("bureau", "year", "sent_at", "sent_by", "sha256", "archived_at")
    list_filter = ("year", "bureau")
    list_select_related = ("bureau", "sent_by")
    search_fields = ("bureau__name", "sha256")
    date_hierarchy = "sent_at"
    readonly_fields = [f.name for f in models.SummarySubmission._meta.fields]


@admin.register(models.Filing)
class FilingAdmin(ReadOnlyAdmin):
    """Approved rechecks filed with the bureau the scheme names (备案), with the documents as filed."""

    list_display = ("case", "bureau", "filed_at", "filed_by")
    list_filter = ("bureau",)
    list_select_related = ("case", "bureau", "filed_by")
    search_fields = ("case__reference", "case__institution__name", "bureau__name")
    date_hierarchy = "filed_at"
    readonly_fields = [f.name for f in models.Filing._meta.fields]


@admin.register(AccessAttempt)
class SigninAttemptAdmin(admin.ModelAdmin):
    """django-axes' record of failed sign-ins, read-only: unlocking goes through the audited service."""

    list_display = ("attempt_time", "username", "ip_address", "failures_since_start", "path_info")
    search_fields = ("username", "ip_address")
    ordering = ("-attempt_time",)
    readonly_fields = ("attempt_time", "username", "ip_address", "user_agent", "path_info", "failures_since_start")
    fields = readonly_fields
    actions = ["unlock"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description=_("Unlock the accounts and addresses of the selected attempts"), permissions=["view"])
    def unlock(self, request, queryset):
        from .services.signin import signin_unlock

        pairs = set(queryset.values_list("username", "ip_address"))
        for username, address in pairs:
            signin_unlock(actor=request.user, username=username or None, address=address,
                          reason=str(_("Unlocked in the admin")))
        self.message_user(request, _("Unlocked %(n)d sign-in lockouts.") % {"n": len(pairs)})
