"""A scheme's documents are declared by its file (issue 15): a version stored before carries the words the
engine used to print for every scheme, written into its stored specification, so that it still loads and its
certificates print as they did."""

from django.db import migrations

#: What the engine printed for every scheme before its file had to say it (the archives scheme's words).
PRINTED_BEFORE = {
    "letter_default": "documents/confirmation_letter_second.html",
    "certificate_number": "鄂档等证〔{year}〕{serial:04d}号",
    "certificate_title": "湖北省机关档案工作目标管理等级证书",
    "recheck_certificate_title": "湖北省机关档案工作目标管理等级复查合格证书",
    "certificate_statement": "经考评，达到湖北省机关档案工作目标管理{grade}标准，特发此证。",
    "application_form_title": "湖北省机关档案工作目标管理等级考评（复查）申报审批表",
    "letter_subject": "关于确认{institution}档案工作达到湖北省机关档案工作目标管理{grade}的函",
}


def declare_documents(apps, schema_editor):
    SchemeVersion = apps.get_model("certification", "SchemeVersion")
    for version in SchemeVersion.objects.all():
        spec = dict(version.spec or {})
        documents = dict(spec.get("documents") or {})
        missing = {key: value for key, value in PRINTED_BEFORE.items() if key not in documents}
        if missing:
            spec["documents"] = {**documents, **missing}
            SchemeVersion.objects.filter(pk=version.pk).update(spec=spec)


class Migration(migrations.Migration):
    dependencies = [("certification", "0033_late_inclusion_requests")]

    operations = [migrations.RunPython(declare_documents, migrations.RunPython.noop)]
