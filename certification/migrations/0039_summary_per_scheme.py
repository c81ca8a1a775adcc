"""Annual summaries are sent per scheme: each summary sent names the scheme it summarises. Summaries sent
before this version were the archives scheme's (the only one that could run a case then); where no scheme
called ``archives`` is loaded, the first scheme loaded is taken. (The column becomes required in the next
migration: PostgreSQL will not alter a table with the rows just updated in the same transaction.)"""

import django.db.models.deletion
from django.db import migrations, models


def name_the_scheme(apps, schema_editor):
    Scheme = apps.get_model("certification", "Scheme")
    SummarySubmission = apps.get_model("certification", "SummarySubmission")
    if not SummarySubmission.objects.exists():
        return
    scheme = Scheme.objects.filter(code="archives").first() or Scheme.objects.order_by("pk").first()
    if scheme is None:
        raise RuntimeError("annual summaries were sent but no scheme is loaded: load the scheme they summarise")
    SummarySubmission.objects.filter(scheme__isnull=True).update(scheme=scheme)


class Migration(migrations.Migration):
    dependencies = [
        ("certification", "0038_neutral_words"),
    ]

    operations = [
        migrations.RemoveConstraint(model_name="summarysubmission", name="one_summary_sent_per_bureau_and_year"),
        migrations.AddField(
            model_name="summarysubmission",
            name="scheme",
            field=models.ForeignKey(null=True, on_delete=django.db.models.deletion.PROTECT,
                                    related_name="summary_submissions", to="certification.scheme",
                                    verbose_name="scheme"),
        ),
        migrations.RunPython(name_the_scheme, migrations.RunPython.noop),
    ]
