"""A scheme author's tools: ``scheme_diff`` shows what a new version changes (entries matched by their code),
and the admin shows a loaded version read-only with its rubric as a table."""

import pytest
from django.core.management import call_command

from certification.scheme import SCHEMES_DIR, parse_scheme, scheme_diff, shipped_scheme_file
from tests.factories import UserFactory


@pytest.fixture
def staff_client(client):
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    return client


def edited(text: str, old: str, new: str) -> str:
    assert old in text
    return text.replace(old, new, 1)


def test_the_diff_of_two_versions_names_each_change_by_path_and_code():
    text = shipped_scheme_file("archives").read_text(encoding="utf-8")
    old = parse_scheme(text)
    new = parse_scheme(edited(edited(text, f"version: {old.version}", f"version: {old.version + 1}"),
                              "notice_days: 7", "notice_days: 10"))
    changes = [str(c) for c in scheme_diff(old, new)]
    assert changes == [f"~ version: {old.version} → {old.version + 1}", "~ times.notice_days: 7 → 10"]
    assert scheme_diff(old, old) == []


def test_a_rubric_item_is_matched_by_its_code_not_its_place():
    text = shipped_scheme_file("archives").read_text(encoding="utf-8")
    old = parse_scheme(text)
    first_item = old.rubrics[next(iter(old.rubrics))].categories[0].items[0]
    new = parse_scheme(edited(text, f"name: {first_item.name}", f"name: {first_item.name}（修订）"))
    changes = scheme_diff(old, new)  # once per rubric that holds the item
    assert changes
    for change in changes:
        assert change.kind == "changed"
        assert change.path.endswith(f".items.{first_item.code}.name")  # by code, not "items[0]"
        assert change.after == f"{first_item.name}（修订）"


def test_the_command_compares_two_files_and_exits_1_when_they_differ(capsys):
    with pytest.raises(SystemExit) as ended:
        call_command("scheme_diff", str(SCHEMES_DIR / "archives-v1.yaml"), str(SCHEMES_DIR / "archives-v2.yaml"))
    assert ended.value.code == 1
    out = capsys.readouterr().out
    assert "~ version: 1 → 2" in out
    assert "authority.county.special.recheck.plan: null → \"province\"" in out


@pytest.mark.django_db
def test_the_command_compares_loaded_versions_by_code(archives_version, capsys):
    call_command("scheme_diff", "archives", str(shipped_scheme_file("archives")))  # the same: exits normally
    assert capsys.readouterr().out.rstrip().endswith("0 change(s)")


@pytest.mark.django_db
def test_the_admin_shows_a_version_read_only_with_its_rubric_as_a_table(staff_client, archives_version):
    page = staff_client.get(f"/admin/certification/schemeversion/{archives_version.pk}/change/")
    html = page.content.decode()
    assert page.status_code == 200
    assert 'name="_save"' not in html  # nothing to save: a loaded version never changes
    item = archives_version.specification().rubrics[next(iter(archives_version.specification().rubrics))]
    first = item.categories[0].items[0]
    assert f"<td>{first.code} {first.name}</td>" in html
    assert "<th>计分方式</th>" in html and "<th>一票否决</th>" in html
    assert "deduction" not in html.split("<th>计分方式</th>", 1)[1].split("</table>", 1)[0]
