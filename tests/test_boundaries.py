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
