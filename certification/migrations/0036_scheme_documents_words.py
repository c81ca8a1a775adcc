"""A scheme's documents print its own words (issue 15): the text they cite, its word for the assessment, the
work assessed, the titles of its forms, the first sentences of the notice and the integrity notice, the annual
summary's title and note, and the confirmation letter's number format are declared by its file. A version
stored before carries them, written into its stored specification, so that it still loads and reloading its
file finds it unchanged: the shipped schemes' own words for their versions, and for any other scheme the words
the engine printed for every scheme until now (the archives scheme's).

The archives' confirmation letters moved from ``templates/documents/`` to ``templates/schemes/archives/``
(the shared folder keeps no scheme's words): a stored version naming them is pointed at the new place."""

from django.db import migrations

_ARCHIVES_METHOD = "《湖北省机关档案工作目标管理等级考评办法》"

#: What the engine printed for every scheme before the files had to say it (the archives scheme's words).
PRINTED_BEFORE = {
    "templates": {"application_form": "schemes/archives/application_form.html"},
    "letter_number": "{bureau}函〔{year}〕{serial}号",
    "basis": f"{_ARCHIVES_METHOD}（鄂档规〔2011〕1号）",
    "assessment": "考评",
    "work": "档案工作",
    "self_check_form_title": "自查情况考评表",
    "assessment_form_title": "等级考评表（评审评分表）",
    "panel_roster_title": "考评组人员名单及回避声明",
    "notice_lead": f"根据{_ARCHIVES_METHOD}，现将拟考评机关名单及考评等级予以公示，接受社会监督。",
    "integrity_lead": f"根据{_ARCHIVES_METHOD}第十三条，{{bureau}}在机关档案工作目标管理等级考评工作中实行廉政告知书制度。"
                      "现将有关事项告知如下：",
    "annual_summary_title": "{bureau}{year}年机关档案工作目标管理等级考评审批情况汇总表",
    "annual_summary_note": f"按{_ARCHIVES_METHOD}第十条，市州级档案局于{{due}}前报省档案局。",
}

#: The words each shipped scheme's file declares (certification/schemes/*.yaml at this migration).
SHIPPED = {
    "archives": PRINTED_BEFORE,
    "education-county": {
        "letter_number": "{bureau}函〔{year}〕{serial}号",
        "basis": "《云南省县级人民政府教育工作督导评估办法》",
        "assessment": "督导评估",
        "work": "教育工作",
        "self_check_form_title": "督导评估自评表",
        "assessment_form_title": "督导评估表（评审评分表）",
        "panel_roster_title": "督导评估组人员名单及回避声明",
        "notice_lead": "现将拟督导评估单位名单及申报等级予以公示，接受社会监督。",
        "integrity_lead": "{bureau}在教育工作督导评估中实行廉政告知书制度。现将有关事项告知如下：",
        "annual_summary_title": "{bureau}{year}年教育工作督导评估审批情况汇总表",
        "annual_summary_note": "",
    },
    "yueyang-office": {
        "letter_number": "{bureau}函〔{year}〕{serial}号",
        "basis": "《2013年县（市）区教育局办公室“创新思维创新工作创新管理”目标管理考核方案》（岳市教办通〔2013〕22号）",
        "assessment": "考核",
        "work": "办公室工作",
        "self_check_form_title": "自查情况考核表",
        "assessment_form_title": "目标管理考核评分表",
        "panel_roster_title": "考核组人员名单及回避声明",
        "notice_lead": "根据目标管理考核方案，现将拟考核单位名单及考核等级予以公示，接受社会监督。",
        "integrity_lead": "{bureau}在目标管理考核工作中实行廉政告知书制度。现将有关事项告知如下：",
        "annual_summary_title": "{bureau}{year}年目标管理考核审批情况汇总表",
        "annual_summary_note": "",
    },
}

MOVED = {f"documents/confirmation_letter_{name}.html": f"schemes/archives/confirmation_letter_{name}.html"
         for name in ("first", "second")}


def declare_words(apps, schema_editor):
    SchemeVersion = apps.get_model("certification", "SchemeVersion")
    for version in SchemeVersion.objects.select_related("scheme"):
        spec = dict(version.spec or {})
        documents = dict(spec.get("documents") or {})
        words = SHIPPED.get(version.scheme.code, PRINTED_BEFORE)
        changed = {key: value for key, value in words.items() if key not in documents}
        letters = {grade: MOVED.get(path, path) for grade, path in (documents.get("letters") or {}).items()}
        if letters != (documents.get("letters") or {}):
            changed["letters"] = letters
        if documents.get("letter_default") in MOVED:
            changed["letter_default"] = MOVED[documents["letter_default"]]
        if changed:
            spec["documents"] = {**documents, **changed}
            SchemeVersion.objects.filter(pk=version.pk).update(spec=spec)


class Migration(migrations.Migration):
    dependencies = [("certification", "0035_certificate_serial_per_scheme")]

    operations = [migrations.RunPython(declare_words, migrations.RunPython.noop)]
