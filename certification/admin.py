"""The Django admin for reference data. Nothing is deleted from here: rows are archived instead.

Every change made in the admin — reference data, users, groups, object permissions, schedules, any model of
any app — is written to the hash-chained audit log with the values before and after, in the same transaction
as the change (:class:`AuditedAdminMixin`, applied to every registered model by :func:`audit_every_admin`).
Django's own ``LogEntry`` keeps its summary too, but it holds no values and a superuser can edit it.
"""

import hashlib

from axes.models import AccessAttempt
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.db import transaction
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _
from guardian.admin import GuardedModelAdminMixin

from . import models
from .enums import RuleKind
from .services.audit import audit_record


def _snapshot(obj) -> dict:
    """An object's values as the audit log keeps them: every concrete field by name (a foreign key as its id),
    every many-to-many as the sorted ids; a password only as a digest of its hash, so that a change shows."""
    data = {}
    for field in obj._meta.concrete_fields:
        value = getattr(obj, field.attname)
        if field.name == "password":
            value = "sha256:" + hashlib.sha256(str(value).encode()).hexdigest()[:16] if value else ""
        elif hasattr(value, "name") and not isinstance(value, str):  # a file
            value = value.name or ""
        data[field.name] = value
    if obj.pk is not None:
        for field in obj._meta.many_to_many:
            data[field.name] = sorted(getattr(obj, field.name).values_list("pk", flat=True))
    return data


def _stored(obj) -> dict | None:
    if obj.pk is None:
        return None
    stored = type(obj)._default_manager.filter(pk=obj.pk).first()
    return None if stored is None else _snapshot(stored)


def _audit_change(request, obj, before: dict | None, *, action: str | None = None) -> None:
    after = _snapshot(obj)
    if before is None:
        audit_record(actor=request.user, action=action or "admin.add", target=obj, after=after)
        return
    stamps = {f.name for f in obj._meta.concrete_fields if getattr(f, "auto_now", False)}  # updated_at and the like
    changed = sorted(k for k in after if k not in stamps and before.get(k) != after[k])
    if changed:
        audit_record(actor=request.user, action=action or "admin.change", target=obj,
                     before={k: before.get(k) for k in changed}, after={k: after[k] for k in changed})


def _audited_permissions_form(base, request, holder: str):
    """Guardian's object-permission form for one user or group, with the grant and the revocation audited."""

    class AuditedObjectPermissionsForm(base):
        def save_obj_perms(self):
            before = sorted(self.get_obj_perms_field_initial())
            with transaction.atomic():
                super().save_obj_perms()
                after = sorted(self.cleaned_data[self.get_obj_perms_field_name()])
                if before != after:
                    who = str(getattr(self, holder))
                    audit_record(actor=request.user, action="admin.object_permissions", target=self.obj,
                                 before={holder: who, "permissions": before},
                                 after={holder: who, "permissions": after})

    return AuditedObjectPermissionsForm


class AuditedAdminMixin:
    """Writes each add, change and delete made through this admin (inlines, many-to-many fields and guardian's
    object permissions included) to the audit log, with the values before and after. The admin's add, change
    and delete views run in one transaction, so the change and its entry commit or roll back together."""

    def save_model(self, request, obj, form, change):
        before = _stored(obj) if change else None
        super().save_model(request, obj, form, change)
        request._audit_before = getattr(request, "_audit_before", {})
        request._audit_before[(type(obj), obj.pk)] = before

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)  # many-to-many and inlines saved
        obj = form.instance
        _audit_change(request, obj, getattr(request, "_audit_before", {}).get((type(obj), obj.pk)))

    def save_formset(self, request, form, formset, change):
        before = {f.instance.pk: _stored(f.instance) for f in formset.forms
                  if f.instance.pk is not None and f.has_changed()}
        deleted = [(f.instance, _stored(f.instance)) for f in getattr(formset, "deleted_forms", [])
                   if f.instance.pk is not None]
        super().save_formset(request, form, formset, change)
        for obj in formset.new_objects:
            _audit_change(request, obj, None)
        for obj, _fields in formset.changed_objects:
            _audit_change(request, obj, before.get(obj.pk))
        for obj, snapshot in deleted:
            if obj in formset.deleted_objects:
                audit_record(actor=request.user, action="admin.delete", target=obj, before=snapshot)

    def delete_model(self, request, obj):
        with transaction.atomic():
            audit_record(actor=request.user, action="admin.delete", target=obj, before=_snapshot(obj))
            super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        with transaction.atomic():
            for obj in queryset:
                audit_record(actor=request.user, action="admin.delete", target=obj, before=_snapshot(obj))
            super().delete_queryset(request, queryset)

    def get_obj_perms_manage_user_form(self, request):
        return _audited_permissions_form(super().get_obj_perms_manage_user_form(request), request, "user")

    def get_obj_perms_manage_group_form(self, request):
        return _audited_permissions_form(super().get_obj_perms_manage_group_form(request), request, "group")


def audit_every_admin(site=admin.site) -> None:
    """Make every model admin of ``site`` audited (ours and other apps': users, groups, schedules, tokens),
    whatever app registered it. Called once the URLs are built (``config/urls.py``), when every app's admin
    module has registered its models."""
    for model, model_admin in list(site._registry.items()):
        if isinstance(model_admin, AuditedAdminMixin):
            continue
        base = type(model_admin)
        site.unregister(model)
        site.register(model, type(f"Audited{base.__name__}", (AuditedAdminMixin, base), {}))

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
                       "is_current", "rubric_table")
    exclude = ("spec",)
    inlines = [GradeInline]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False  # shown read-only: a loaded version never changes

    @admin.display(description=_("rubric"))
    def rubric_table(self, version):
        """Each rubric of the version as a table: category, item, points, how it is scored, key item, veto."""
        spec = version.specification()
        head = format_html("<tr>{}</tr>", format_html_join("", "<th>{}</th>", [
            (_("Category"),), (_("Item"),), (_("Points"),), (_("Scored by"),), (_("Key item"),),
            (_("One-vote veto"),)]))
        tables = []
        for code, rubric in spec.rubrics.items():
            cells = "<tr><td>{}</td><td>{} {}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>"
            rows = format_html_join("", cells, [
                (f"{category.code} {category.name}", item.code, item.name, item.max_points,
                 RuleKind(item.rule.kind).label,
                 "★" if item.key else "", item.veto.text if item.veto else "")
                for category in rubric.categories for item in category.items])
            tables.append(format_html("<h3>{} {}（{}）</h3><table>{}{}</table>", code, rubric.title,
                                      rubric.max_points, head, rows))
        return format_html_join("", "{}", [(t,) for t in tables])


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


@admin.register(models.RegisterBatch)
class RegisterBatchAdmin(ReadOnlyAdmin):
    """Imports of the paper register (certificates already held); imported and withdrawn on the spreadsheets
    page, read here."""

    list_display = ("id", "bureau", "imported_by", "created_at", "source", "withdrawn_at")
    list_select_related = ("bureau", "imported_by")
    search_fields = ("source",)


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

    list_display = ("bureau", "scheme", "year", "sent_at", "sent_by", "sha256", "archived_at")
    list_filter = ("year", "scheme", "bureau")
    list_select_related = ("bureau", "scheme", "sent_by")
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
