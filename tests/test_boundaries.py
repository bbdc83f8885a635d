"""DESIGN's package boundaries: ingest never imports api; retrieval never imports api and takes
only the data model from ingest."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# what retrieval may take from ingest: the data model (the document card included), never the engines
# or the pipeline
INGEST_MODEL_MODULES = {
    "ingest.layout",
    "ingest.chunking",
    "ingest.clauses",
    "ingest.card",
    "ingest.errors",
    "ingest.page",
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("path", _modules("ingest"), ids=lambda p: str(p.relative_to(ROOT)))
def test_ingest_never_imports_api(path: Path) -> None:
    bad = {m for m in _imports(path) if m.split(".")[0] == "api"}
    assert not bad, f"{path} imports {bad}"


@pytest.mark.parametrize("path", _modules("retrieval"), ids=lambda p: str(p.relative_to(ROOT)))
def test_retrieval_takes_only_the_data_model_from_ingest(path: Path) -> None:
    imports = _imports(path)
    assert not {m for m in imports if m.split(".")[0] == "api"}, f"{path} imports api"
    from_ingest = {m for m in imports if m.split(".")[0] == "ingest"}
    assert from_ingest <= INGEST_MODEL_MODULES, f"{path} imports {from_ingest - INGEST_MODEL_MODULES}"


def _project_module(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def test_no_import_cycle_among_the_packages() -> None:
    """Every import counts, inside functions and TYPE_CHECKING blocks too: hiding a cycle there is
    how services -> jobs -> celery_app -> services once went unseen."""
    paths = [p for package in ("ingest", "retrieval", "api") for p in _modules(package)]
    known = {_project_module(p) for p in paths}
    graph = {_project_module(p): {m for m in _imports(p) if m in known} - {_project_module(p)} for p in paths}
    done: set[str] = set()

    def visit(module: str, trail: list[str]) -> None:
        if module in trail:
            raise AssertionError("import cycle: " + " -> ".join([*trail[trail.index(module) :], module]))
        if module in done:
            return
        for imported in sorted(graph[module]):
            visit(imported, [*trail, module])
        done.add(module)

    for module in sorted(graph):
        visit(module, [])


def test_tests_take_helpers_from_support_never_from_a_conftest_or_bench() -> None:
    bad = {
        str(path.relative_to(ROOT)): found
        for path in _modules("tests")
        if (found := {m for m in _imports(path) if m.endswith("conftest") or m.split(".")[0] == "bench"})
    }
    assert not bad, f"move the shared helpers to tests/support/: {bad}"


def test_bench_takes_from_tests_only_support_and_fakes() -> None:
    allowed = ("tests.support", "tests.fakes")
    bad = {
        str(path.relative_to(ROOT)): found
        for path in _modules("bench")
        if (found := {m for m in _imports(path) if m.split(".")[0] == "tests" and not m.startswith(allowed)})
    }
    assert not bad, f"bench/ may import tests/support/ and tests/fakes/ only: {bad}"


@pytest.mark.parametrize("path", _modules("integrations"), ids=lambda p: str(p.relative_to(ROOT)))
def test_integrations_talk_http_and_import_no_opticite_package(path: Path) -> None:
    """integrations/ run in the scheduler's own environment (Airflow's pins), where opticite is not installed."""
    bad = {m for m in _imports(path) if m.split(".")[0] in ("ingest", "retrieval", "api", "tests")}
    assert not bad, f"{path} imports {bad}"
