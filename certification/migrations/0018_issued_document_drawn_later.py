"""An issued document is frozen as its HTML with that HTML's SHA-256; its PDF is drawn afterwards by a task.

The documents issued before were drawn when they were frozen: their HTML's hash is computed here, and their
``drawn_at`` is their issue time."""

import hashlib

import certification.models.documents
from django.db import migrations, models


def hash_the_html_of_documents_issued_before(apps, schema_editor):
    IssuedDocument = apps.get_model("certification", "IssuedDocument")
    for document in IssuedDocument.objects.filter(content_sha256="").only("pk", "html", "issued_at").iterator():
        IssuedDocument.objects.filter(pk=document.pk).update(
            content_sha256=hashlib.sha256(document.html.encode("utf-8")).hexdigest(), drawn_at=document.issued_at)


class Migration(migrations.Migration):

    dependencies = [
        ("certification", "0017_case_dates_of_record"),
    ]

    operations = [
        migrations.AddField(
            model_name="issueddocument",
            name="content_sha256",
            field=models.CharField(default="", max_length=64, verbose_name="SHA-256 of the HTML"),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="issueddocument",
            name="drawn_at",
            field=models.DateTimeField(blank=True, null=True, verbose_name="PDF drawn at"),
        ),
        migrations.AlterField(
            model_name="issueddocument",
            name="file",
            field=models.FileField(blank=True, max_length=255, upload_to=certification.models.documents.document_path,
                                   verbose_name="PDF"),
        ),
        migrations.AlterField(
            model_name="issueddocument",
            name="sha256",
            field=models.CharField(blank=True, max_length=64, verbose_name="SHA-256 of the PDF"),
        ),
        migrations.AlterField(
            model_name="issueddocument",
            name="size",
            field=models.PositiveIntegerField(blank=True, null=True, verbose_name="size in bytes"),
        ),
        migrations.RunPython(hash_the_html_of_documents_issued_before, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="issueddocument",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("drawn_at__isnull", True), ("file", ""), ("sha256", ""), ("size__isnull", True)),
                    models.Q(("drawn_at__isnull", False), ("size__isnull", False), models.Q(("file", ""), _negated=True),
                             models.Q(("sha256", ""), _negated=True)),
                    _connector="OR"),
                name="document_drawn_with_its_file_hash_and_size"),
        ),
    ]
