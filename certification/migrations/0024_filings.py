"""Filings (备案) as records: the model, and a record for every case an installation already filed, rebuilt from
what was stored (the case's filing bureau, its ``case.file`` audit entry: when and by whom, and the approval
documents frozen with it). No audit entry and no notification is written for the rebuilt records: they were
audited when they were filed."""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models

FILED_KINDS = ("acceptance_request", "application_form", "assessment_form", "notice_result", "integrity_notice",
               "confirmation_letter")


def backfill(apps, schema_editor):
    AuditEntry = apps.get_model("certification", "AuditEntry")
    Case = apps.get_model("certification", "Case")
    Filing = apps.get_model("certification", "Filing")
    IssuedDocument = apps.get_model("certification", "IssuedDocument")
    entries = {}
    for entry in AuditEntry.objects.filter(action="case.file", target_type="certification.case").order_by("id"):
        entries.setdefault(entry.target_id, entry)  # the first filing of a case is the one that counts
    cases = Case.objects.filter(pk__in=[int(pk) for pk in entries], filing_bureau__isnull=False)
    for case in cases.iterator():
        entry = entries[str(case.pk)]
        frozen = (IssuedDocument.objects.filter(case=case, certificate__isnull=True, kind__in=FILED_KINDS)
                  .order_by("issued_at", "id").values("id", "kind", "number", "content_sha256"))
        Filing.objects.get_or_create(case=case, defaults={
            "bureau_id": case.filing_bureau_id, "filed_at": entry.at, "filed_by_id": entry.actor_id,
            "documents": [{"id": d["id"], "kind": d["kind"], "number": d["number"], "sha256": d["content_sha256"]}
                          for d in frozen]})


class Migration(migrations.Migration):

    dependencies = [
        ('certification', '0023_forwarding_delegation_objections'),
    ]

    operations = [
        migrations.CreateModel(
            name='Filing',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now, editable=False, verbose_name='created at')),
                ('updated_at', models.DateTimeField(auto_now=True, verbose_name='updated at')),
                ('archived_at', models.DateTimeField(blank=True, editable=False, null=True, verbose_name='archived at')),
                ('filed_at', models.DateTimeField(verbose_name='filed at')),
                ('documents', models.JSONField(blank=True, default=list, verbose_name='documents filed')),
                ('bureau', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='filings', to='certification.bureau', verbose_name='filed with')),
                ('case', models.OneToOneField(on_delete=django.db.models.deletion.PROTECT, related_name='filing', to='certification.case', verbose_name='case')),
                ('filed_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='filed by')),
            ],
            options={
                'verbose_name': 'filing',
                'verbose_name_plural': 'filings',
                'ordering': ['-filed_at', '-id'],
                'indexes': [models.Index(fields=['bureau', '-filed_at', '-id'], name='filing_bureau_newest_first')],
            },
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
    ]
