from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("certification", "0010_reviews")]

    operations = [
        migrations.RenameField(model_name="case", old_name="forwarded_by", new_name="forwarding_bureau"),
    ]
