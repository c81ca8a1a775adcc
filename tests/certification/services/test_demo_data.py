"""The demo's world is a data file (certification/demo/province.yaml): it is read and validated, and a file
naming a grade its scheme lacks is refused with a message that says where, before anything is created."""

import tomllib
from fnmatch import fnmatch
from pathlib import Path

import pytest

from certification.models import Case, Region
from certification.services.demo import DEMO_FILE, DemoDataError, demo_seed, demo_world, load_demo_world
from workflows.demo import demo_cases

ROOT = Path(__file__).resolve().parents[3]


def _world_with(tmp_path, old: str, new: str):
    text = DEMO_FILE.read_text(encoding="utf-8")
    assert text.count(old) == 1
    path = tmp_path / "demo.yaml"
    path.write_text(text.replace(old, new), encoding="utf-8")
    return load_demo_world(path)


def test_the_shipped_demo_data_is_valid_and_shipped_with_the_package():
    world = demo_world()
    assert world.applicant_institution in world.institution_names()
    package_data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    relative = DEMO_FILE.relative_to(ROOT / "certification").as_posix()
    assert any(fnmatch(relative, pattern) for pattern in package_data["certification"])


@pytest.mark.django_db
def test_a_grade_the_scheme_lacks_is_refused_before_anything_is_created(tmp_path):
    world = _world_with(tmp_path, "{key: prov-finance, holder: 湖北省财政厅, grade: first,",
                        "{key: prov-finance, holder: 湖北省财政厅, grade: third,")
    with pytest.raises(DemoDataError, match=r"certificates\[prov-finance\]\.grade is 'third'") as refused:
        demo_seed(world=world)
    assert "does not have" in str(refused.value) and "its grades are" in str(refused.value)
    assert not Region.objects.exists()


@pytest.mark.django_db
def test_the_demo_cases_refuse_a_grade_the_scheme_lacks(tmp_path, archives_version):
    world = _world_with(tmp_path, "{institution: 武汉市公安局, grade: second,", "{institution: 武汉市公安局, grade: third,")
    with pytest.raises(DemoDataError, match=r"cases\[武汉市公安局\]\.grade is 'third'"):
        demo_cases(world)
    assert not Case.objects.exists()


def test_a_name_the_world_does_not_create_is_refused(tmp_path):
    with pytest.raises(DemoDataError, match="no institution '武汉市不存在局'"):
        _world_with(tmp_path, "applicant_institution: 武汉市财政局", "applicant_institution: 武汉市不存在局")
