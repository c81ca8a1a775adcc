"""Every annual summary sent names its scheme; one stands per bureau, scheme and year."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("certification", "0039_summary_per_scheme"),
    ]

    operations = [
        migrations.AlterField(
            model_name="summarysubmission",
            name="scheme",
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT,
                                    related_name="summary_submissions", to="certification.scheme",
                                    verbose_name="scheme"),
        ),
        migrations.AlterModelOptions(
            name="summarysubmission",
            options={"ordering": ["-year", "bureau", "scheme", "-sent_at", "-id"],
                     "verbose_name": "annual summary sent", "verbose_name_plural": "annual summaries sent"},
        ),
        migrations.AddConstraint(
            model_name="summarysubmission",
            constraint=models.UniqueConstraint(condition=models.Q(("archived_at__isnull", True)),
                                               fields=("bureau", "scheme", "year"),
                                               name="one_summary_sent_per_bureau_scheme_and_year"),
        ),
    ]
