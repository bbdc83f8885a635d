"""Settings: YAML, then OPTICITE_* env (nested with __), then overrides; unsafe combinations refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from api.settings import SettingsError, load_settings


def test_yaml_then_env_then_overrides(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("data_dir: /srv/x\nrunner: inprocess\njobs: {concurrency: 3}\nsource: {dpi: 100}\n")
    monkeypatch.setenv("OPTICITE_CONFIG", str(config))
    monkeypatch.setenv("OPTICITE_JOBS__CONCURRENCY", "5")
    monkeypatch.setenv("OPTICITE_DEEPSEEK__URL", "http://gpu:8000/v1")
    settings = load_settings(max_upload_bytes=10)
    assert settings.data_dir == Path("/srv/x") and settings.source.dpi == 100
    assert settings.jobs.concurrency == 5 and settings.max_upload_bytes == 10
    assert settings.deepseek is not None and settings.deepseek.url == "http://gpu:8000/v1"
    assert settings.database_url == "sqlite:////srv/x/opticite.db"
    assert settings.store_config().path == "/srv/x/qdrant"


def test_default_config_has_no_servers(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("OPTICITE_DATA_DIR", str(tmp_path))
    settings = load_settings()
    assert settings.deepseek is None and settings.runner == "inprocess" and settings.api_keys == []
    assert settings.data_dir == tmp_path


def test_celery_with_embedded_store_is_refused_naming_the_fix() -> None:
    with pytest.raises(SettingsError, match=r"runner=celery.*store\.url") as info:
        load_settings(runner="celery")
    assert info.value.code == "bad_settings" and "\n" not in info.value.message  # one line for the CLI
    assert (
        load_settings(runner="celery", store={"engine": "server", "url": "http://q:6333"}).runner == "celery"
    )


def test_missing_config_file_and_duplicate_keys_are_refused(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="OPTICITE_CONFIG"):
        load_settings(tmp_path / "nope.yaml")
    with pytest.raises(ValueError, match="same key"):
        load_settings(api_keys=[{"key": "k" * 20}, {"key": "k" * 20}])
