"""The web UI against a server with API keys: the error is shown plainly, the key is kept and sent."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.environment import clean_env
from tests.support.servers import LiveServer, test_settings

pytestmark = pytest.mark.ui

KEY = "ui-test-key-0123"


@pytest.fixture(scope="module")
def keyed_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with clean_env():
        data: Path = tmp_path_factory.mktemp("keyed")
        with LiveServer(test_settings(data, api_keys=[{"key": KEY, "kbs": ["default"]}])) as server:
            yield server


def test_missing_key_shows_the_servers_message_then_saved_key_is_sent(
    page: Any, keyed_app: LiveServer
) -> None:
    sent: list[str | None] = []
    page.on("request", lambda r: sent.append(r.headers.get("authorization")) if "/v1/" in r.url else None)
    page.goto(keyed_app.url + "/#documents")
    banner = page.locator("#error")
    banner.wait_for()
    assert "needs an API key" in banner.inner_text() and "unauthorized" in banner.inner_text()

    page.click("#key-button")
    page.fill("#key-input", KEY)
    page.click("#key-save")
    page.locator("#panel-documents .first-run").wait_for()
    assert page.evaluate("localStorage.getItem('opticite.apiKey')") == KEY
    assert sent[-1] == f"Bearer {KEY}"

    page.reload()
    page.locator("#panel-documents .first-run").wait_for()
    assert sent[-1] == f"Bearer {KEY}"
