"""A scheme's time rules, stages, promotion rule, time zone and panel rules are declared by its file (issue 15):
none takes a default any more. A version stored before, whose specification lacks one, is given the value the
engine applied to it then, written into its stored specification, so that it loads and its running cases keep
their rules."""

from django.db import migrations

#: What the engine applied to a file that left a part out, before every part had to be stated.
APPLIED_BEFORE = {
    "time_zone": "Asia/Shanghai",
    "promotion": {"step_by_step": True, "wait_years": 1},
    "stages": {"precheck": True, "notice": True, "recheck": True},
    "times": {
        "declaration_opens": "01-01", "declaration_closes": "03-31", "special_forward_by": "03-31",
        "rectification_days": 30, "notice_days": 7, "panel_scoring_days": 14, "panel_reminder_days_before": [3, 1],
        "validity_years": 3, "recheck_window": {"opens": "year_start", "min_days": 90},
        "recheck_reminder_days_before": [90, 30, 7], "incident_window_years": 2,
        "annual_summary": {"due": "12-20", "reminders": ["12-01", "12-15"]},
    },
    "panel": {"aggregation": "consensus", "discrepancy_share": "0.30", "conflict_employment_years": 3,
              "onsite_majority": "0.6666666666666666666666666667", "onsite_sample_units": 3},
}


def _filled(stored: dict, before: dict) -> dict:
    filled = dict(stored)
    for key, value in before.items():
        if key not in filled:
            filled[key] = value
        elif isinstance(value, dict) and isinstance(filled[key], dict):
            filled[key] = _filled(filled[key], value)
    return filled


def declare_times(apps, schema_editor):
    SchemeVersion = apps.get_model("certification", "SchemeVersion")
    for version in SchemeVersion.objects.all():
        spec = dict(version.spec or {})
        filled = _filled(spec, APPLIED_BEFORE)
        if filled != spec:
            SchemeVersion.objects.filter(pk=version.pk).update(spec=filled)


class Migration(migrations.Migration):
    dependencies = [("certification", "0036_scheme_documents_words")]

    operations = [migrations.RunPython(declare_times, migrations.RunPython.noop)]
