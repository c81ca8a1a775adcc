"""An index on Viewflow's task table for the inbox: only the open human tasks (a few thousand in a province
whose task table holds more than a million rows), by node and owner — what ``workflows.engine.workable_tasks``
asks. Partial indexes are plain SQL on PostgreSQL and SQLite alike."""

from django.db import migrations

NAME = "workflows_open_human_task"


class Migration(migrations.Migration):

    dependencies = [
        ("workflows", "0001_case_process"),
        ("viewflow", "0015_task_scheduled"),
    ]

    operations = [
        migrations.RunSQL(
            sql=f"CREATE INDEX IF NOT EXISTS {NAME} ON viewflow_task (flow_task, owner_id) "
                "WHERE status IN ('NEW', 'ASSIGNED') AND flow_task_type = 'HUMAN'",
            reverse_sql=f"DROP INDEX IF EXISTS {NAME}",
        ),
    ]
