"""Certificate serials are per scheme and year (issue 15): each scheme numbers its certificates in its own
series, in its own format.

Until now every scheme shared one series a year. The year's last serial carries over to each scheme that holds
a certificate of that year, issued or registered, so no number ever issued is issued again. A scheme's series
therefore continues from the shared one: it may skip the serials other schemes took before this change, and it
stays unique and gapless from here on."""

from django.db import migrations, models
from django.db.models import Max


def split_counters(apps, schema_editor):
    Old = apps.get_model("certification", "CertificateSerialShared")
    New = apps.get_model("certification", "CertificateSerial")
    Certificate = apps.get_model("certification", "Certificate")
    shared = dict(Old.objects.values_list("year", "last"))
    held = Certificate.objects.values("scheme_id", "year").annotate(top=Max("serial"))
    for row in held:
        last = max(shared.get(row["year"], 0), row["top"] or 0)
        New.objects.create(scheme_id=row["scheme_id"], year=row["year"], last=last)


class Migration(migrations.Migration):
    dependencies = [("certification", "0034_scheme_documents_declared")]

    operations = [
        migrations.RenameModel("CertificateSerial", "CertificateSerialShared"),
        migrations.CreateModel(
            name="CertificateSerial",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("year", models.PositiveSmallIntegerField(verbose_name="year")),
                ("last", models.PositiveIntegerField(default=0, verbose_name="last serial")),
                ("scheme", models.ForeignKey(on_delete=models.deletion.PROTECT, related_name="+",
                                             to="certification.scheme", verbose_name="scheme")),
            ],
            options={"verbose_name": "certificate serial", "verbose_name_plural": "certificate serials",
                     "constraints": [models.UniqueConstraint(fields=("scheme", "year"),
                                                             name="certificate_serial_per_scheme_year")]},
        ),
        migrations.RunPython(split_counters, migrations.RunPython.noop),
        migrations.DeleteModel("CertificateSerialShared"),
        migrations.RemoveConstraint(model_name="certificate", name="certificate_serial_unique_in_year"),
        migrations.AddConstraint(
            model_name="certificate",
            constraint=models.UniqueConstraint(fields=("scheme", "year", "serial"),
                                               name="certificate_serial_unique_in_scheme_year"),
        ),
    ]
