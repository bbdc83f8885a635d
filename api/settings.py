"""Service settings: YAML (configs/default.yaml or $OPTICITE_CONFIG) overlaid by `OPTICITE_*` env.

Nested env keys use `__` (`OPTICITE_DEEPSEEK__URL`). Each section is the owning component's own
config model, handed to it unchanged. `load_settings()` is called once per process entry point.
"""

from __future__ import annotations

import os
from contextvars import ContextVar
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from ingest.chunking import ChunkingConfig
from ingest.configs import RapidOcrConfig, SourceConfig, TextLayerConfig
from ingest.errors import OpticiteError
from ingest.ocr.deepseek import DeepSeekConfig
from ingest.ocr.engine import OcrOptions
from ingest.ocr.vlm import VlmConfig
from retrieval.answer import AnswerConfig
from retrieval.chat import ChatConfig
from retrieval.embed import EmbedderConfig
from retrieval.review import ReviewConfig
from retrieval.search import SearchConfig
from retrieval.store import StoreConfig

DEFAULT_CONFIG = Path(__file__).resolve().parents[1] / "configs" / "default.yaml"
_yaml_path: ContextVar[Path | None] = ContextVar("opticite_yaml_path", default=None)


class SettingsError(OpticiteError, ValueError):
    """Unsafe or contradictory settings; the message names the setting and the fix."""

    code = "bad_settings"


MIN_KEY_CHARS = 16  # a guessable 8-character key was allowed before (issue 14)


class ApiKey(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: str = Field(min_length=MIN_KEY_CHARS)
    kbs: list[str] = Field(default_factory=lambda: ["*"])  # "*" = every kb
    name: str = ""
    review: bool = False  # may accept and correct OCR in the review queue of its kbs


class ReviewSettings(BaseModel):
    """The OCR review queue and the drift alert (docs/reliability.md, "OCR review and drift")."""

    model_config = ConfigDict(extra="forbid")

    rate: float = Field(default=0.02, ge=0, le=1)  # share of OCR'd pages sampled into the queue
    kb_rates: dict[str, float] = Field(default_factory=dict)  # kb -> its own rate
    alert_accept_rate: float = Field(default=0.9, ge=0, le=1)  # below this over the window: alert
    alert_window: int = Field(default=200, ge=1)  # the last reviews of the kb the rate is taken over
    alert_min_reviews: int = Field(default=20, ge=1)  # no alert on fewer reviews than this
    alert_webhook_url: str | None = None  # signed POST (event drift.alert) when a kb crosses below

    def rate_for(self, kb: str) -> float:
        return self.kb_rates.get(kb, self.rate)


class WebhookSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    secret: str | None = None  # HMAC-SHA256 key for the X-Opticite-Signature header
    kb_secrets: dict[str, str] = Field(default_factory=dict)  # kb -> its own key, in place of `secret`
    allow_private_targets: bool = False  # loopback/private/link-local targets (tests, single host)
    timeout_s: float = 10.0
    retries: int = 5
    backoff_s: float = 1.0


class OcrRequestSettings(BaseModel):
    """Bounds on `/v1/ocr`, which OCRs in the request itself (uploads go through jobs instead)."""

    model_config = ConfigDict(extra="forbid")

    max_pages: int = Field(default=100, ge=1)
    max_pixels: int = Field(default=200_000_000, ge=1)  # all pages as rendered (~100 A4 pages at 144 dpi)
    concurrency: int = Field(default=2, ge=1)  # requests OCR'd at once; more get 429 ocr_busy


class JobSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    concurrency: int = Field(default=2, ge=1)  # documents at once per process (in-process runner)
    page_concurrency: int = Field(default=4, ge=1)  # pages of one document OCR'd at once
    page_batch_size: int = Field(default=8, ge=1)  # Celery: pages per fan-out task
    celery_queue: str = "opticite"
    visibility_timeout_s: int = Field(default=3600, ge=1)  # Celery: redelivery after a lost worker
    allow_embedded_store_with_celery: bool = False  # only when the API never opens the store


class HttpSettings(BaseModel):
    """The HTTP edge (api/guard.py): who may connect and how much one request or client may take."""

    model_config = ConfigDict(extra="forbid")

    open_access: bool = False  # serve with no API keys on a non-loopback address (everyone gets in)
    allowed_hosts: list[str] = Field(default_factory=list)  # Host names besides loopback ones; "*": any
    allowed_origins: list[str] = Field(default_factory=list)  # other origins that may POST/DELETE
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)  # every body but uploads (max_upload_bytes)
    event_streams: int = Field(default=256, ge=1)  # job event streams open at once, in total
    event_streams_per_client: int = Field(default=16, ge=1)  # ... per API key (no keys: per address)
    failed_keys_per_minute: int = Field(default=30, ge=1)  # wrong keys per address before 429


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OPTICITE_", env_nested_delimiter="__", extra="forbid")

    data_dir: Path = Path("./data")
    db_url: str | None = None  # default: sqlite in data_dir
    runner: Literal["inprocess", "celery"] = "inprocess"
    redis_url: str = "redis://127.0.0.1:6379/0"
    api_keys: list[ApiKey] = Field(default_factory=list)  # empty: auth off
    max_upload_bytes: int = Field(default=200 * 1024 * 1024, ge=1)
    # page images rendered for highlights, crops and previews, kept on disk up to this many bytes in all
    page_image_cache_bytes: int = Field(default=1024 * 1024 * 1024, ge=0)

    source: SourceConfig = Field(default_factory=SourceConfig)
    deepseek: DeepSeekConfig | None = None  # None: no OCR server, pages go to the CPU engines
    vlm: VlmConfig | None = None  # a general vision model (engine "vlm"); None: not offered
    textlayer: TextLayerConfig = Field(default_factory=TextLayerConfig)
    rapidocr: RapidOcrConfig = Field(default_factory=RapidOcrConfig)
    ocr: OcrOptions = Field(default_factory=OcrOptions)  # per-document defaults
    chunking: ChunkingConfig = Field(default_factory=ChunkingConfig)
    embedder: EmbedderConfig = Field(default_factory=EmbedderConfig)
    store: StoreConfig = Field(default_factory=StoreConfig)
    search: SearchConfig = Field(default_factory=SearchConfig)
    answer: AnswerConfig = Field(default_factory=AnswerConfig)
    chat: ChatConfig = Field(default_factory=ChatConfig)
    extract: ReviewConfig = Field(default_factory=ReviewConfig)  # contract review (POST /v1/extract)
    jobs: JobSettings = Field(default_factory=JobSettings)
    webhooks: WebhookSettings = Field(default_factory=WebhookSettings)
    review: ReviewSettings = Field(default_factory=ReviewSettings)
    ocr_request: OcrRequestSettings = Field(default_factory=OcrRequestSettings)
    http: HttpSettings = Field(default_factory=HttpSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        yaml_path = _yaml_path.get()
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if yaml_path is not None:
            sources.append(YamlConfigSettingsSource(settings_cls, yaml_file=yaml_path))
        return tuple(sources)

    @model_validator(mode="after")
    def _check(self) -> Settings:
        validate_settings(self)
        return self

    # --- derived paths ------------------------------------------------------------------
    @property
    def database_url(self) -> str:
        return self.db_url or f"sqlite:///{(self.data_dir / 'opticite.db').resolve()}"

    @property
    def docs_dir(self) -> Path:
        return self.data_dir / "docs"

    @property
    def uploads_dir(self) -> Path:
        return self.data_dir / "uploads"

    def store_config(self) -> StoreConfig:
        """The store section with a relative embedded path placed inside data_dir.

        The store's own default ("data/qdrant") assumes data_dir=./data, so a leading "data/" is dropped.
        """
        path = Path(self.store.path)
        if self.store.engine == "server" or path.is_absolute():
            return self.store
        parts = path.parts[1:] if path.parts[:1] == ("data",) and len(path.parts) > 1 else path.parts
        return self.store.model_copy(update={"path": str(self.data_dir.joinpath(*parts).resolve())})

    def embedded_store(self) -> bool:
        return self.store.engine != "server"

    def page_concurrency(self) -> int:
        """Pages of one document in flight: a GPU OCR server takes many at once, the CPU a few."""
        if self.deepseek is not None:
            return max(self.jobs.page_concurrency, self.deepseek.concurrency)
        return self.jobs.page_concurrency


def validate_settings(settings: Settings) -> None:
    """Refuse combinations that would lose data or open holes; say which setting to change."""
    if (
        settings.runner == "celery"
        and settings.embedded_store()
        and not settings.jobs.allow_embedded_store_with_celery
    ):
        raise SettingsError(
            "runner=celery with an embedded vector store (store.path): the embedded store can be opened by "
            "one process only, and Celery workers run apart from the API. Set store.url to a Qdrant server "
            "(OPTICITE_STORE__ENGINE=server, OPTICITE_STORE__URL=http://qdrant:6333) or use runner=inprocess."
        )
    for key in settings.api_keys:
        if not key.kbs:
            raise SettingsError(
                f"api_keys: key {key.name or key.key[:4] + '…'} has no kbs; list kbs or use ['*']"
            )
    if len({k.key for k in settings.api_keys}) != len(settings.api_keys):
        raise SettingsError("api_keys: the same key is listed twice; give each client its own key")
    if settings.extract.backend == "llm" and not (settings.answer.llm.url and settings.answer.llm.model):
        raise SettingsError(
            "extract.backend=llm needs a chat model: set answer.llm.url and answer.llm.model "
            "(OPTICITE_ANSWER__LLM__URL, OPTICITE_ANSWER__LLM__MODEL)"
        )
    if settings.webhooks.retries < 0 or settings.webhooks.timeout_s <= 0:
        raise SettingsError("webhooks: retries must be >= 0 and timeout_s > 0")


def load_settings(path: Path | str | None = None, **overrides: object) -> Settings:
    """Settings from YAML (path, $OPTICITE_CONFIG or configs/default.yaml), env, then overrides."""
    chosen = (
        Path(path)
        if path
        else Path(os.environ["OPTICITE_CONFIG"])
        if os.environ.get("OPTICITE_CONFIG")
        else None
    )
    if chosen is None and DEFAULT_CONFIG.is_file():
        chosen = DEFAULT_CONFIG
    if chosen is not None and not chosen.is_file():
        raise SettingsError(f"config file {chosen} not found; fix OPTICITE_CONFIG or the --config path")
    token = _yaml_path.set(chosen)
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:  # one readable line, whether a value or a validator refused
        raise SettingsError(f"invalid settings: {_describe(exc)}") from exc
    finally:
        _yaml_path.reset(token)


def _describe(exc: ValidationError) -> str:
    """pydantic's errors as `where: why`; a SettingsError from a validator keeps its own message."""
    parts = []
    for error in exc.errors():
        cause = error.get("ctx", {}).get("error")
        why = cause.message if isinstance(cause, SettingsError) else error["msg"]
        where = ".".join(str(p) for p in error["loc"])
        parts.append(f"{where}: {why}" if where else why)
    return "; ".join(parts)
