"""Fixtures for the web UI tests: Debian's Chromium driven by Playwright, the real app on loopback."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from api.samples import make_samples
from tests.support.environment import clean_env
from tests.support.servers import LiveServer, test_settings

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Where the README screenshot is copied when set (not an OPTICITE_* variable: those are cleared per test).
DOCS_SHOT_ENV = "UI_SCREENSHOT_DIR"


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not CHROMIUM.is_file():
        pytest.skip(f"Chromium not found at {CHROMIUM} (`make chromium` installs Debian's package)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """The generated sample set: [contract PDF, scan PNG]."""
    return make_samples(tmp_path_factory.mktemp("samples"))


@pytest.fixture(scope="module")
def live_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The real app (embedded defaults, auth off) shared by one module so the embedder loads once."""
    with clean_env():
        settings = test_settings(tmp_path_factory.mktemp("data"))
        with LiveServer(settings) as server:
            yield server


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh browser context (empty localStorage) at a laptop size; page errors fail the test."""
    context = browser.new_context(viewport={"width": 1366, "height": 860})
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    yield tab
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


@pytest.fixture
def shots(tmp_path: Path) -> Any:
    """save(page, name): a screenshot under tmp_path; copied to $UI_SCREENSHOT_DIR when `docs` is set."""

    def save(tab: Any, name: str, docs: bool = False, **kwargs: Any) -> Path:
        path = tmp_path / f"{name}.png"
        tab.screenshot(path=str(path), animations="disabled", **kwargs)
        target = os.environ.get(DOCS_SHOT_ENV)
        if docs and target:
            Path(target).mkdir(parents=True, exist_ok=True)
            shutil.copy(path, Path(target) / path.name)
        return path

    return save
