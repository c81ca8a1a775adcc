"""The shape of the imports: no import cycle among the modules of ``certification``, no permission codename
spelled out where ``certification.permissions`` names it, and the Celery tasks the services send by name
registered in the web's process.

The first two read the source with ``ast`` and import nothing of it; none needs a database.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import certification
import notifications
import workflows
from certification import permissions

PACKAGE = "certification"
ROOT = Path(certification.__file__).resolve().parent


def _modules(root: Path, package: str) -> dict[str, tuple[Path, bool]]:
    """Every module of the package: dotted name → (file, whether it is a package's ``__init__``)."""
    found = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        if is_package:
            parts = parts[:-1]
        found[".".join([package, *parts])] = (path, is_package)
    return found


def _resolve(name: str, *, is_package: bool, node: ast.ImportFrom) -> str:
    """The absolute module a ``from … import`` names (relative imports resolved against ``name``)."""
    if not node.level:
        return node.module or ""
    base = name.split(".") if is_package else name.split(".")[:-1]
    base = base[:len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def import_graph(root: Path = ROOT, package: str = PACKAGE) -> dict[str, set[str]]:
    """Module → the modules of the package it imports, at module level or inside a function.
    ``from pkg import name`` is an edge to ``pkg.name`` when that is a module, else to ``pkg``."""
    modules = _modules(root, package)
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, (path, is_package) in modules.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                for alias in node.names:
                    # ``import a.b.c`` runs a.b.c: the deepest module of the package it names
                    parts = alias.name.split(".")
                    targets += [next((".".join(parts[:i]) for i in range(len(parts), 0, -1)
                                      if ".".join(parts[:i]) in modules), "")]
            elif isinstance(node, ast.ImportFrom):
                base = _resolve(name, is_package=is_package, node=node)
                for alias in node.names:
                    targets.append(f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base)
            graph[name].update(t for t in targets if t in modules and t != name)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the graph as a path that ends where it starts, or None (depth-first, three colours)."""
    state: dict[str, int] = {}  # absent: not seen; 1: on the current path; 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                return path[path.index(target):] + [target]
            if target not in state and (cycle := visit(target)) is not None:
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)) is not None:
            return cycle
    return None


def test_the_graph_sees_relative_function_level_and_package_imports():
    graph = import_graph()

    assert "certification.services.audit" in graph["certification.services.documents"]  # from .audit import
    assert "certification.documents" in graph["certification.services.documents"]  # from .. import documents
    assert "certification.models" in graph["certification.services.cases"]  # from ..models import Case
    assert "certification.services.certificates" in graph["certification.tasks"]  # inside the task's function


def test_freezing_documents_imports_no_other_service_but_the_audit_log_and_the_signatures():
    graph = import_graph()

    def services(module):
        return {m for m in graph[module] if m.startswith("certification.services.")}

    assert services("certification.services.documents") == {"certification.services.audit",
                                                             "certification.services.signing"}
    # the signatures are a leaf too: they import no service that issues documents
    assert services("certification.services.signing") == {"certification.services.audit"}


def test_find_cycle_reports_the_cycle_it_finds():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}

    assert find_cycle(graph) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_certification_has_no_import_cycle():
    cycle = find_cycle(import_graph())

    assert cycle is None, "import cycle: " + " → ".join(cycle)


# --- Permission codenames are named, not spelled --------------------------------------------------------
CODENAMES = (permissions.ACT_FOR_INSTITUTION, permissions.WORK_IN_BUREAU, permissions.PRECHECK_FOR_BUREAU,
             permissions.APPROVE_FOR_BUREAU, permissions.ISSUE_FOR_BUREAU, permissions.AUDIT_BUREAU)

CHECKED = (ROOT, Path(notifications.__file__).resolve().parent, Path(workflows.__file__).resolve().parent)


def _spelled_codenames(path: Path) -> list[tuple[int, str]]:
    """(line, codename) of every string constant in ``path`` that is one of the six codenames."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return [(node.lineno, node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and node.value in CODENAMES]


@pytest.mark.parametrize("root", CHECKED, ids=lambda root: root.name)
def test_permission_codenames_are_named_by_their_constants(root):
    spelled = [f"{path.relative_to(root.parent)}:{line}: {value!r}"
               for path in sorted(root.rglob("*.py")) if path != Path(permissions.__file__).resolve()
               for line, value in _spelled_codenames(path)]

    assert spelled == [], "use the constants of certification.permissions:\n" + "\n".join(spelled)


# --- Tasks sent by name are registered where they are sent ------------------------------------------------

def test_the_web_process_registers_the_tasks_the_services_send_by_name():
    """Celery's autodiscovery runs only in its own command line (worker, beat): a process that merely sets
    Django up, as the web's does, must still know the task ``issue_batch_start`` sends by its name."""
    from certification.services.issuing import ISSUE_BATCH_ITEM_TASK

    code = ("import json, django; django.setup(); from celery import current_app; "
            "print(json.dumps(sorted(current_app.tasks)))")
    done = subprocess.run([sys.executable, "-c", code], env=dict(os.environ),  # noqa: S603 - fixed arguments
                          capture_output=True, text=True, timeout=120, check=False)

    assert done.returncode == 0, done.stderr
    assert ISSUE_BATCH_ITEM_TASK in json.loads(done.stdout.splitlines()[-1])
