"""No grade code, scheme code, Hubei word or archives number in Python or in a shared template (issue 15,
"Must show" 7): each belongs in a scheme's own files (certification/schemes/, the templates a scheme names under
templates/schemes/, and the demo's data file). A shared template does not say 档案 (archives) either: what a
case's page or document prints of its work comes from the case's scheme."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORDS = re.compile(r"""["'](second|first|special|qualified|advanced|archives|yueyang-office|education-county)["']"""
                   r"|鄂|湖北"
                   r"|(archives-v|yueyang-office-|education-county-)\d+\.yaml")  # a shipped file named as a default
SCANNED = ("certification", "workflows", "notifications", "templates")
SKIPPED = ("migrations", "schemes", "locale", "__pycache__")


def leftovers() -> dict[str, int]:
    found: dict[str, int] = {}
    for top in SCANNED:
        for path in sorted((ROOT / top).rglob("*")):
            if path.suffix not in (".py", ".html", ".txt") or any(part in SKIPPED for part in path.parts):
                continue
            lines = [n for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
                     if WORDS.search(line)]
            if lines:
                found[str(path.relative_to(ROOT))] = len(lines)
    return found


ARCHIVES_WORD = re.compile("档案")


def test_no_scheme_word_is_left_in_the_source():
    assert leftovers() == {}


def test_no_shared_template_names_the_archives_work():
    found = [str(path.relative_to(ROOT)) for path in sorted((ROOT / "templates").rglob("*"))
             if path.suffix in (".html", ".txt") and "schemes" not in path.parts
             and ARCHIVES_WORD.search(path.read_text(encoding="utf-8"))]
    assert found == []


def test_the_grep_finds_a_scheme_word_where_one_is_written(tmp_path, monkeypatch):
    """The check can fail: a grade code or a Hubei word written into a shared file is found."""
    (tmp_path / "certification").mkdir()
    (tmp_path / "certification" / "leak.py").write_text(
        'GRADE = "second"\nBUREAU = "湖北省档案局"\nDEFAULT = SCHEMES_DIR / "archives-v2.yaml"\n', encoding="utf-8")
    monkeypatch.setitem(globals(), "ROOT", tmp_path)
    assert leftovers() == {"certification/leak.py": 3}


CATALOGUE = ROOT / "certification" / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"


def archives_words_in(catalogue: Path) -> list[str]:
    """The engine's Chinese words that say 档案 where its English does not say archives: the engine names its
    authorities neutrally (考评机关, 主管部门); 档案 is said only of the archives prerequisites an institution
    records (its leader in charge of archives, its archives-safety incidents), whose English says so."""
    found = []
    for block in catalogue.read_text(encoding="utf-8").split("\n\n"):
        parts: dict[str, str] = {}
        key = None
        for line in block.splitlines():
            if line.startswith(("msgid ", "msgstr")):
                key, _space, line = line.partition(" ")
            if key and line.startswith('"'):
                parts[key] = parts.get(key, "") + line[1:-1]
        if "档案" in parts.get("msgstr", "") and "archives" not in parts.get("msgid", ""):
            found.append(parts["msgid"])
    return found


def test_the_engine_words_do_not_name_the_archives_bureau():
    assert archives_words_in(CATALOGUE) == []


def test_the_catalogue_check_finds_an_archives_bureau_where_one_is_written(tmp_path):
    leak = tmp_path / "django.po"
    leak.write_text('msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=UTF-8\\n"\n\n'
                    'msgid "assessing bureau"\nmsgstr "考评档案局"\n\n'
                    'msgid "leader in charge of archives"\nmsgstr "分管档案工作的领导"\n', encoding="utf-8")
    assert archives_words_in(leak) == ["assessing bureau"]
