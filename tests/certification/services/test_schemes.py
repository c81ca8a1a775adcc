import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from certification.exceptions import RuleViolation
from certification.models import Grade, RubricCategory, RubricItem, SchemeVersion
from certification.scheme import load_scheme_file, parse_scheme, shipped_scheme_file
from certification.services.schemes import scheme_load

pytestmark = pytest.mark.django_db


def test_scheme_load_stores_grades_and_rubric_rows(archives_version):
    assert archives_version.is_current
    assert list(Grade.objects.filter(version=archives_version).values_list("code", "pass_line")) == [
        ("second", 80), ("first", 90), ("special", None)]
    standard = RubricCategory.objects.filter(version=archives_version, rubric="standard")
    assert sum(c.max_points for c in standard) == 100
    assert RubricItem.objects.filter(category__in=standard).count() == 18


def test_scheme_load_twice_is_a_no_op(archives_version):
    again = scheme_load(spec=load_scheme_file(shipped_scheme_file("archives")))
    assert again.created is False
    assert again.version == archives_version
    assert SchemeVersion.objects.count() == 1


def test_a_version_loaded_before_the_format_gained_a_field_still_loads_as_the_same(archives_version):
    # as an installation that loaded archives v1 before `panel.every_member_scores_every_item` existed stored it
    import hashlib
    import json

    stored = archives_version.spec
    del stored["panel"]["every_member_scores_every_item"]
    old_digest = hashlib.sha256(json.dumps(stored, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
                                .encode()).hexdigest()
    SchemeVersion.objects.filter(pk=archives_version.pk).update(spec=stored, digest=old_digest)

    again = scheme_load(spec=load_scheme_file(shipped_scheme_file("archives")))

    assert (again.created, again.version) == (False, archives_version)
    assert SchemeVersion.objects.get(pk=archives_version.pk).digest == old_digest  # a version never changes


def test_scheme_load_refuses_changed_content_under_the_same_version(archives_version):
    text = shipped_scheme_file("archives").read_text(encoding="utf-8").replace("pass_line: 90", "pass_line: 91")
    with pytest.raises(RuleViolation) as exc:
        scheme_load(spec=parse_scheme(text))
    assert exc.value.codes == ["scheme.version_changed"]
    assert Grade.objects.get(version=archives_version, code="first").pass_line == 90


def test_a_new_version_becomes_current_and_the_old_one_stays(archives_version):
    text = (shipped_scheme_file("archives").read_text(encoding="utf-8")
            .replace("pass_line: 90", "pass_line: 91").replace("version: 2", "version: 3"))
    v2 = scheme_load(spec=parse_scheme(text)).version
    archives_version.refresh_from_db()
    assert (v2.is_current, archives_version.is_current) == (True, False)
    assert archives_version.specification().grade("first").pass_line == 90
    assert v2.specification().grade("first").pass_line == 91


def test_stored_spec_round_trips_to_the_same_digest(archives_version):
    assert archives_version.specification().digest() == archives_version.digest


def test_load_scheme_command_loads_every_shipped_scheme(capsys):
    call_command("load_scheme")
    out = capsys.readouterr().out
    assert ("archives v1: loaded" in out, "archives v2: loaded" in out) == (True, True)
    call_command("load_scheme")
    again = capsys.readouterr().out
    assert ("archives v1: already loaded" in again, "archives v2: already loaded" in again) == (True, True)
    assert SchemeVersion.objects.get(scheme__code="archives", is_current=True).number == 2


def test_an_installation_holding_version_1_as_shipped_takes_version_2_and_keeps_version_1s_rules(capsys):
    from certification.scheme import SCHEMES_DIR

    v1 = scheme_load(spec=load_scheme_file(SCHEMES_DIR / "archives-v1.yaml")).version  # loaded by an earlier release

    call_command("load_scheme")  # the upgrade's start-up: every shipped file again, none refused

    v1.refresh_from_db()
    current = SchemeVersion.objects.get(scheme__code="archives", is_current=True)
    assert (v1.is_current, current.number) == (False, 2)
    old, new = v1.specification(), current.specification()
    assert (old.authority["county"]["special"]["recheck"].plan, new.authority["county"]["special"]["recheck"].plan) \
        == (None, "province")
    assert (old.authority["county"]["special"]["promotion"].delegate_precheck,
            new.authority["county"]["special"]["promotion"].delegate_precheck) == (None, "city")


def test_load_scheme_command_reports_a_broken_file_and_stores_nothing(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text(shipped_scheme_file("archives").read_text(encoding="utf-8").replace("pass_line: 80", "pass_line: -80"),
                   encoding="utf-8")
    with pytest.raises(CommandError):
        call_command("load_scheme", str(bad))
    err = capsys.readouterr().err
    assert "grades[0](code second).pass_line" in err
    assert SchemeVersion.objects.count() == 0
