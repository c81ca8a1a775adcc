"""Every change made in the admin reaches the hash-chained audit log with its values before and after, in the
same transaction: reference data (an authority suspended, an incident added inline), users and their groups,
groups and their permissions, object permissions, scheme loads and the beat's schedules; the chain verifies."""

import pytest
from django import forms
from django.contrib import admin
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.urls import reverse
from django_celery_beat.models import CrontabSchedule, PeriodicTask

from certification.admin import AuditedAdminMixin
from certification.models import AuditEntry, SafetyIncident, SchemeVersion
from certification.permissions import WORK_IN_BUREAU
from certification.scheme import shipped_scheme_file
from certification.services.audit import audit_verify
from tests.factories import InstitutionFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def root(client):
    user = UserFactory(username="root", is_staff=True, is_superuser=True)
    client.force_login(user)
    return user


def _put(data: dict, name: str, field, value) -> None:
    widget = field.widget
    if isinstance(widget, forms.MultiWidget):
        for index, (sub, part) in enumerate(zip(widget.widgets, widget.decompress(value), strict=True)):
            data[f"{name}_{index}"] = "" if part is None else sub.format_value(part)
    elif isinstance(value, bool):
        if value:
            data[name] = "on"
    elif isinstance(value, list | tuple):
        data[name] = [str(v) for v in value]
    elif value is not None:
        data[name] = widget.format_value(value) if not isinstance(value, int | str) else str(value)


def as_posted(response) -> dict:
    """The admin form as it stands, as the browser would post it back (main form and inlines)."""
    data = {}
    form = response.context["adminform"].form
    for name, field in form.fields.items():
        if not field.disabled:
            _put(data, form.add_prefix(name), field, form[name].value())
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        for name in formset.management_form.fields:
            data[formset.management_form.add_prefix(name)] = formset.management_form[name].value()
        for subform in formset.forms:
            for name, field in subform.fields.items():
                _put(data, subform.add_prefix(name), field, subform[name].value())
    return data


def post_change(client, url: str, **changes):
    data = {**as_posted(client.get(url)), **changes}
    response = client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else response
    return response


def latest(action: str, target) -> AuditEntry:
    return AuditEntry.objects.filter(action=action, target_type=target._meta.label_lower,
                                     target_id=str(target.pk)).latest("id")


def test_every_model_admin_of_every_app_is_audited():
    client_urls = reverse("admin:index")  # the URLs are built: every app's admin is registered
    assert client_urls
    unaudited = [f"{m._meta.label}" for m, a in admin.site._registry.items() if not isinstance(a, AuditedAdminMixin)]
    assert unaudited == []


def test_suspending_a_bureaus_authority_in_the_admin_is_audited_with_before_and_after(client, root, bureaus):
    county = bureaus["county"]

    post_change(client, reverse("admin:certification_bureau_change", args=[county.pk]),
                authority_suspended="on", suspension_reason="抽查发现考评程序不规范，逾期未整改")

    entry = latest("admin.change", county)
    assert (entry.actor, entry.before, entry.after) == (
        root, {"authority_suspended": False, "suspension_reason": ""},
        {"authority_suspended": True, "suspension_reason": "抽查发现考评程序不规范，逾期未整改"})
    assert audit_verify().ok


def test_an_incident_added_inline_is_audited_as_its_own_addition(client, root, regions):
    institution = InstitutionFactory(region=regions["county"], level="county")
    url = reverse("admin:certification_institution_change", args=[institution.pk])
    data = as_posted(client.get(url))
    prefix = next(k for k in data if k.endswith("-TOTAL_FORMS")).removesuffix("-TOTAL_FORMS")
    data.update({f"{prefix}-TOTAL_FORMS": "1", f"{prefix}-0-occurred_on": "2026-05-01", f"{prefix}-0-kind": "loss",
                 f"{prefix}-0-description": "库房漏水致档案受损", f"{prefix}-0-institution": str(institution.pk)})

    assert client.post(url, data).status_code == 302

    incident = SafetyIncident.objects.get(institution=institution)
    entry = latest("admin.add", incident)
    assert (entry.actor, entry.after["occurred_on"], entry.after["description"]) == (
        root, "2026-05-01", "库房漏水致档案受损")


def test_a_users_groups_and_staff_flag_changed_in_the_admin_are_audited(client, root):
    user = UserFactory(username="clerk")
    group = Group.objects.create(name="审批人员")

    post_change(client, reverse("admin:certification_user_change", args=[user.pk]), groups=[str(group.pk)],
                is_staff="on")

    entry = latest("admin.change", user)
    assert {k: entry.before[k] for k in ("groups", "is_staff")} == {"groups": [], "is_staff": False}
    assert {k: entry.after[k] for k in ("groups", "is_staff")} == {"groups": [group.pk], "is_staff": True}


def test_a_group_added_with_permissions_is_audited(client, root):
    from django.contrib.auth.models import Permission

    permission = Permission.objects.get(codename="change_bureau")

    response = client.post(reverse("admin:auth_group_add"), {"name": "档案局管理员",
                                                              "permissions": [str(permission.pk)]})

    assert response.status_code == 302
    group = Group.objects.get(name="档案局管理员")
    assert latest("admin.add", group).after == {"id": group.pk, "name": "档案局管理员",
                                                "permissions": [permission.pk]}


def test_an_object_permission_granted_in_the_admin_is_audited(client, root, bureaus):
    clerk = UserFactory(username="clerk")
    url = reverse("admin:certification_bureau_permissions_manage_user", args=[bureaus["city"].pk, clerk.pk])
    codename = WORK_IN_BUREAU.split(".")[-1]

    assert client.post(url, {"permissions": [codename]}).status_code == 302

    entry = latest("admin.object_permissions", bureaus["city"])
    assert (entry.actor, entry.before, entry.after) == (
        root, {"user": str(clerk), "permissions": []}, {"user": str(clerk), "permissions": [codename]})


def test_a_scheme_load_is_audited(tmp_path):
    changed = tmp_path / "archives-v2.yaml"
    changed.write_text(shipped_scheme_file("archives").read_text(encoding="utf-8").replace("version: 2", "version: 3", 1),
                       encoding="utf-8")

    call_command("load_scheme", str(changed))

    version = SchemeVersion.objects.get(scheme__code="archives", number=3)
    entry = latest("scheme.load", version)
    assert (entry.after["scheme"], entry.after["version"], entry.after["digest"], entry.after["current"]) == (
        "archives", 3, version.digest, True)


def test_a_schedule_edited_and_deleted_in_the_admin_is_audited(client, root):
    every_day = CrontabSchedule.objects.create(minute="5", hour="0")
    task = PeriodicTask.objects.create(name="每日提醒", task="notifications.send_due_reminders", crontab=every_day,
                                       enabled=True)
    url = reverse("admin:django_celery_beat_periodictask_change", args=[task.pk])

    post_change(client, url, enabled="")
    changed = latest("admin.change", task)
    client.post(reverse("admin:django_celery_beat_periodictask_delete", args=[task.pk]), {"post": "yes"})

    assert (changed.before, changed.after) == ({"enabled": True}, {"enabled": False})
    deleted = AuditEntry.objects.filter(action="admin.delete", target_id=str(task.pk),
                                        target_type="django_celery_beat.periodictask").get()
    assert (deleted.before["name"], deleted.before["task"]) == ("每日提醒", "notifications.send_due_reminders")
    assert not PeriodicTask.objects.filter(pk=task.pk).exists()
    assert audit_verify().ok


def test_a_change_that_fails_leaves_no_entry(client, root, bureaus):
    county = bureaus["county"]
    entries = AuditEntry.objects.count()
    url = reverse("admin:certification_bureau_change", args=[county.pk])

    response = client.post(url, {**as_posted(client.get(url)), "name": ""})

    assert response.status_code == 200  # the form's error, nothing saved
    assert AuditEntry.objects.count() == entries
