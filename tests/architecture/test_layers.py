"""The house's shape, checked: layers in one direction, no import cycles, no hidden imports.

The layer contract itself is import-linter's (pyproject.toml, run by .ci/run as
`lint-imports`); these tests run in the README's test command too, so a
developer sees a broken layer, a new cycle or a function-local import of the
project's own modules without waiting for CI.
"""

import ast
import subprocess
import sys
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("sunusav", "alerts", "cases", "credit", "fraud", "backoffice")
LAYERS = ("sunusav", "alerts", "cases", "credit | fraud", "backoffice")  # lowest first


@pytest.fixture(scope="module")
def graph():
    sys.path.insert(0, str(ROOT))
    try:
        return grimp.build_graph(*PACKAGES, include_external_packages=False, cache_dir=None)
    finally:
        sys.path.remove(str(ROOT))


def _layer(module: str) -> int:
    top = module.split(".")[0]
    return next(i for i, layer in enumerate(LAYERS) if top in layer.split(" | "))


def test_import_linter_contracts_are_kept():
    result = subprocess.run(
        [str(Path(sys.executable).with_name("lint-imports")), "--no-cache"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: 1 kept, 0 broken." in result.stdout


def test_no_module_imports_a_higher_layer_or_a_sibling(graph):
    wrong = []
    for module in graph.modules:
        for imported in graph.find_modules_directly_imported_by(module):
            a, b = module.split(".")[0], imported.split(".")[0]
            if a != b and (_layer(imported) > _layer(module) or {a, b} == {"credit", "fraud"}):
                wrong.append(f"{module} -> {imported}")
    assert wrong == []


def _cycles(graph) -> list[list[str]]:
    """Return the strongly connected components of more than one module (Tarjan, iterative)."""
    edges = {m: sorted(graph.find_modules_directly_imported_by(m)) for m in graph.modules}
    index, low, on_stack, stack, found, counter = {}, {}, set(), [], [], [0]
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(edges[root]))]
        index[root] = low[root] = counter[0]
        counter[0] += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter[0]
                    counter[0] += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(edges.get(child, ()))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_there_is_no_import_cycle(graph):
    # A package's __init__ is empty here; a cycle is two modules needing each other.
    assert _cycles(graph) == []


def _function_local_project_imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    lines = path.read_text().split("\n")
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for inner in ast.walk(node):
            if isinstance(inner, ast.ImportFrom) and inner.module:
                names = [inner.module]
            elif isinstance(inner, ast.Import):
                names = [alias.name for alias in inner.names]
            else:
                continue
            if not any(name.split(".")[0] in PACKAGES for name in names):
                continue
            # Allowed only with a one-line comment saying why, on the line above or the same line.
            here, above = lines[inner.lineno - 1], lines[inner.lineno - 2].strip()
            said_why = "#" in here or above.startswith("#") or _in_commented_block(lines, inner.lineno)
            if not said_why:
                found.append(f"{path.relative_to(ROOT)}:{inner.lineno}")
    return found


def _in_commented_block(lines: list[str], lineno: int) -> bool:
    """Whether the import belongs to a run of imports headed by a comment (an AppConfig.ready())."""
    i = lineno - 2
    while i >= 0 and (not lines[i].strip() or lines[i].strip().startswith(("from ", "import "))):
        i -= 1
    return i >= 0 and lines[i].strip().startswith("#")


def test_function_local_imports_of_the_project_say_why():
    sources = [p for package in PACKAGES for p in (ROOT / package).rglob("*.py") if "migrations" not in p.parts]
    found = [hit for path in sources for hit in _function_local_project_imports(path)]
    assert found == []
