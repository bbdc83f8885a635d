"""The `opticite` command line: OCR, ingest, search, ask, documents, the server and the worker.

Each command parses its input, calls one service operation and shapes the output (`--json` for
data). With a live server announced on the data directory, commands go through its HTTP API.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from typer.core import TyperGroup

from api.cli_backend import Backend, LocalBackend, open_backend
from api.cli_files import CliError, expand_paths, ocr_json, write_ocr_result
from api.cli_ocr_review import review_app
from api.cli_review import render, schema_argument
from api.schemas import KB_PATTERN, AskRequest, CalibrationPublic, JobPublic, OcrResult, SearchRequest
from api.server_info import read_server_info
from ingest.digest import sha256_file
from ingest.errors import IngestError, OpticiteError
from ingest.ocr.engine import EngineName, OcrMode, OcrOptions
from retrieval.hits import SearchMode

if TYPE_CHECKING:  # api.settings pulls in every component's config (PyMuPDF...): loaded per command
    from api.settings import Settings

T = TypeVar("T")
SKIPPED = "skipped (already indexed)"
DEBUG = "opticite.debug"  # ctx.meta key, shared by every command's context


class _Group(TyperGroup):
    """Every error is one line on stderr, never a traceback (unless --debug): an OpticiteError exits
    2 with its message, anything else exits 1 naming its type."""

    def invoke(self, ctx: Any) -> Any:  # typer vendors its own click; its Context type is private
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, typer.TyperException):
            raise  # click's own: usage errors, --help, exit codes
        except Exception as exc:
            if ctx.meta.get(DEBUG):
                raise
            if isinstance(exc, OpticiteError):
                typer.echo(f"error: {exc.message}", err=True)
                raise typer.Exit(2) from None
            typer.echo(f"error: {type(exc).__name__}: {exc} (--debug shows the traceback)", err=True)
            raise typer.Exit(1) from None


app = typer.Typer(
    cls=_Group,
    help=__doc__.splitlines()[0],
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
docs_app = typer.Typer(cls=_Group, help="List and delete documents.", no_args_is_help=True)
app.add_typer(docs_app, name="docs")
app.add_typer(review_app, name="review")
err = Console(stderr=True)


@app.callback()
def _root(
    ctx: typer.Context,
    config: Path | None = typer.Option(None, "--config", help="Settings YAML (default: $OPTICITE_CONFIG)."),
    debug: bool = typer.Option(False, "--debug", help="Show the traceback of an error."),
) -> None:
    ctx.obj = config
    ctx.meta[DEBUG] = debug


def _settings(ctx: typer.Context) -> Settings:
    from api.settings import load_settings

    return load_settings(ctx.find_root().obj)


def _run(coro: Awaitable[T]) -> T:
    return asyncio.run(coro)  # type: ignore[arg-type]


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    )


def _echo_json(data: object) -> None:
    typer.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


# --- commands ------------------------------------------------------------------------------------
@app.command()
def ocr(
    ctx: typer.Context,
    files: list[Path] = typer.Argument(..., help="Images or PDFs."),
    engine: EngineName = typer.Option("auto", help="OCR engine."),
    ocr_url: str | None = typer.Option(
        None, help="DeepSeek-OCR vLLM base URL, e.g. http://localhost:8000/v1."
    ),
    model: str | None = typer.Option(None, help="Model name served at --ocr-url."),
    mode: OcrMode | None = typer.Option(None, help="DeepSeek resolution mode (auto: chosen per page)."),
    prompt: str | None = typer.Option(None, help="Prompt preset (document, free, figure, describe) or text."),
    fmt: Literal["md", "json"] = typer.Option("md", "--format", help="Output format."),
    out: Path | None = typer.Option(None, help="Write NAME.md / NAME.json here instead of printing."),
) -> None:
    """OCR files to Markdown or JSON blocks with boxes; nothing is stored or indexed."""
    missing = [str(p) for p in files if not p.is_file()]
    if missing:
        raise CliError(f"no such file: {', '.join(missing)}")
    settings = _with_ocr_server(_settings(ctx), ocr_url, model)
    if engine == "deepseek" and settings.deepseek is None:
        raise CliError(
            "--engine deepseek needs a DeepSeek-OCR server: pass --ocr-url http://HOST:PORT/v1 "
            "or set deepseek.url in the settings"
        )
    options = _ocr_options(settings, engine, mode, prompt)

    def emit(path: Path, result: OcrResult) -> None:
        for page in result.pages:
            status = page.quality.get("status")
            if status in ("fallback", "failed"):
                typer.echo(f"{path} page {page.page}: {status}: {page.quality.get('reason')}", err=True)
        written = write_ocr_result(result, path, fmt, out)
        if written is not None:
            typer.echo(f"{path} -> {written}", err=True)
        elif fmt == "json":
            body = ocr_json(result, path)
            typer.echo(json.dumps(body, ensure_ascii=False, indent=None if len(files) > 1 else 2))
        else:
            typer.echo((f"<!-- file {path} -->\n" if len(files) > 1 else "") + result.markdown)

    _run(_ocr_files(settings, files, options, emit))


async def _ocr_files(
    settings: Settings, files: list[Path], options: OcrOptions, emit: Callable[[Path, OcrResult], None]
) -> None:
    from api.services import Services

    services = Services(settings)  # OCR only: no tables created, no store opened, no model loaded
    try:
        with _progress() as bar:
            task = bar.add_task("OCR pages", total=await asyncio.to_thread(_count_pages, files, settings))
            for path in files:
                bar.update(task, description=f"OCR {path.name}")
                result = await services.ocr_file(path, options, on_page=lambda _page: bar.advance(task))
                emit(path, result)
    finally:
        await services.components.aclose()


def _count_pages(files: Sequence[Path], settings: Settings) -> int | None:
    """Pages in all `files`, for the progress bar; a file that cannot be opened counts none (its
    error is reported when its turn comes)."""
    from ingest.sources import open_source

    total = 0
    for path in files:
        try:
            with open_source(path, settings.source) as src:
                total += src.page_count
        except IngestError:
            continue
    return total or None


def _with_ocr_server(settings: Settings, url: str | None, model: str | None) -> Settings:
    if url is None and model is None:
        return settings
    from ingest.ocr.deepseek import DeepSeekConfig

    base = settings.deepseek.model_dump() if settings.deepseek else {}
    updates = {k: v for k, v in {"url": url, "model": model}.items() if v}
    return settings.model_copy(update={"deepseek": DeepSeekConfig.model_validate(base | updates)})


def _ocr_options(settings: Settings, engine: str | None, mode: str | None, prompt: str | None) -> OcrOptions:
    updates = {k: v for k, v in {"engine": engine, "mode": mode, "prompt": prompt}.items() if v}
    return OcrOptions.model_validate(settings.ocr.model_dump() | updates)


def _check_kb(kb: str) -> str:
    """The kb name rule of uploads and samples, so a local ingest cannot create a kb they would refuse."""
    if not re.fullmatch(KB_PATTERN, kb):
        raise typer.BadParameter(
            f"{kb!r}: use 1-100 letters, digits, '_', '.', '-', starting with a letter or digit"
        )
    return kb


@app.command()
def ingest(
    ctx: typer.Context,
    paths: list[str] = typer.Argument(..., help="Files, folders (searched recursively) or glob patterns."),
    kb: str = typer.Option(..., "--kb", help="Knowledge base name.", callback=_check_kb),
    engine: EngineName | None = typer.Option(None, help="OCR engine (default: settings)."),
    tags: str | None = typer.Option(None, help="Comma-separated tags."),
    wait: bool = typer.Option(True, help="Wait for the jobs and show progress."),
    as_json: bool = typer.Option(False, "--json", help="Print the documents as JSON."),
) -> None:
    """Add documents to a knowledge base; files already there (same sha256) are skipped, so running it again
    on a folder uploads only new files (`opticite sync` is the same command). Exits 2 when a file is
    refused or a document failed, this time or when it was first ingested."""
    settings = _settings(ctx)
    files = expand_paths(paths)
    options = _ocr_options(settings, engine, None, None)
    tag_list = [t.strip() for t in (tags or "").split(",") if t.strip()]
    rows = _run(_ingest(settings, files, kb, options, tag_list, wait))
    if as_json:
        _echo_json(rows)
    else:
        table = Table("file", "document", "status", "pages")
        for row in rows:
            table.add_row(row["file"], row["document_id"] or "-", row["status"], str(row.get("pages") or ""))
        Console().print(table)
    failed = [r for r in rows if r["status"] in ("refused", "failed")]
    for row in failed:
        typer.echo(f"error: {row['file']}: {row['status']}: {row['error']}", err=True)
    if failed:
        raise typer.Exit(2)


async def _ingest(
    settings: Settings, files: Sequence[Path], kb: str, options: OcrOptions, tags: list[str], wait: bool
) -> list[dict[str, Any]]:
    async with open_backend(settings, needs_store=wait) as backend:
        rows = [await _submit(backend, path, kb, options, tags) for path in files]
        if wait:
            await _wait_jobs(backend, [r for r in rows if r["status"] == "queued"])
            await _earlier_failures(backend, [r for r in rows if r["skipped"]])
    return rows


async def _submit(
    backend: Backend, path: Path, kb: str, options: OcrOptions, tags: list[str]
) -> dict[str, Any]:
    """One file's row; a file the service refuses (unsupported, damaged...) does not stop the others."""
    row: dict[str, Any] = {  # the same keys on every row: null while unknown (pages: until waited for)
        "file": str(path),
        "document_id": None,
        "job_id": None,
        "error": None,
        "skipped": None,
        "pages": None,
    }
    try:
        # a file already in the kb (its sha256) is not sent again; the upload would dedupe it too
        found = await backend.find(kb, await asyncio.to_thread(sha256_file, path))
        if found is not None:
            job_id = found.job.id if found.job else None
            return row | {"document_id": found.id, "job_id": job_id, "status": SKIPPED, "skipped": True}
        sub = await backend.submit(path, kb, options, tags)
    except OpticiteError as exc:
        return row | {"status": "refused", "error": exc.message}
    return row | {
        "document_id": sub.document_id,
        "job_id": sub.job_id,
        "status": SKIPPED if sub.existing else "queued",
        "skipped": sub.existing,
    }


async def _wait_jobs(backend: Backend, pending: list[dict[str, Any]]) -> None:
    done: dict[str, int] = {}
    totals: dict[str, int] = {}
    with _progress() as bar:
        task = bar.add_task(f"ingest {len(pending)} file(s)", total=None)

        def progress(job: JobPublic) -> None:
            done[job.id], totals[job.id] = job.pages_done, job.pages_total
            bar.update(task, completed=sum(done.values()), total=sum(totals.values()) or None)

        jobs = await asyncio.gather(*(backend.wait_job(r["job_id"], progress) for r in pending))
    for row, job in zip(pending, jobs, strict=True):
        row.update(status=job.state, pages=job.pages_total, error=job.error)


async def _earlier_failures(backend: Backend, skipped: list[dict[str, Any]]) -> None:
    """A file skipped as already there whose document failed then is reported failed again, with its reason
    (a scheduler re-running the folder must not see it as done)."""
    for row in skipped:
        job = await backend.wait_job(row["job_id"], lambda _: None)
        if job.state == "failed":
            row.update(status="failed", pages=job.pages_total, error=job.error)


app.command("sync", help="The same as `ingest`: upload a folder's new files and wait for them.")(ingest)


@app.command()
def search(
    ctx: typer.Context,
    query: str = typer.Argument(..., help="What to look for."),
    kb: str = typer.Option(..., "--kb", help="Knowledge base name."),
    mode: SearchMode = typer.Option("hybrid", help="Dense + sparse, or one of them."),
    top_k: int = typer.Option(10, "--top-k", min=1, max=100),
    doc: list[str] = typer.Option(None, "--doc", help="Only this document id (repeatable)."),
    as_json: bool = typer.Option(False, "--json", help="Print the results as JSON."),
) -> None:
    """Search a knowledge base: chunks with their pages and boxes."""
    request = SearchRequest(query=query, kb=kb, mode=mode, top_k=top_k, doc_ids=doc or None)
    results = _run(_call(_settings(ctx), lambda b: b.search(request)))
    if as_json:
        _echo_json({"results": results})
        return
    console = Console()
    for i, hit in enumerate(results, 1):
        pages = ",".join(str(p) for p in hit.get("pages", []))
        heading = " > ".join(hit.get("heading_path", []))
        console.print(f"[bold]{i}. {hit['filename']}[/bold] p.{pages}  score {hit['score']:.3f}  {heading}")
        console.print(hit["markdown"][:400], markup=False)
    if not results:
        console.print("no results")


@app.command()
def ask(
    ctx: typer.Context,
    question: str = typer.Argument(..., help="The question."),
    kb: str = typer.Option(..., "--kb", help="Knowledge base name."),
    top_k: int = typer.Option(8, "--top-k", min=1, max=50),
    doc: list[str] = typer.Option(None, "--doc", help="Only this document id (repeatable)."),
    as_json: bool = typer.Option(False, "--json", help="Print the answer and citations as JSON."),
) -> None:
    """Answer a question from a knowledge base, citing page regions."""
    request = AskRequest(query=question, kb=kb, top_k=top_k, doc_ids=doc or None)
    answer = _run(_call(_settings(ctx), lambda b: b.ask(request)))
    if as_json:
        _echo_json(answer)
        return
    console = Console()
    console.print(answer["answer"], markup=False)
    for c in answer["citations"]:
        where = "; ".join(f"p.{r['page']} {r['bbox']}" for r in c["regions"])
        console.print(f"[{c['n']}] {c['filename']} {where}", markup=False)


async def _call(settings: Settings, op: Callable[[Backend], Awaitable[T]], needs_store: bool = True) -> T:
    async with open_backend(settings, needs_store) as backend:
        return await op(backend)


@docs_app.command("list")
def docs_list(
    ctx: typer.Context,
    kb: str | None = typer.Option(None, "--kb", help="Only this knowledge base."),
    limit: int = typer.Option(100, min=1, max=500),
    as_json: bool = typer.Option(False, "--json", help="Print the documents as JSON."),
) -> None:
    """List documents, newest first."""
    docs = _run(_call(_settings(ctx), lambda b: b.documents(kb, limit), needs_store=False))
    if as_json:
        _echo_json({"documents": [d.model_dump(mode="json") for d in docs]})
        return
    table = Table("id", "kb", "file", "status", "pages", "chunks")
    for d in docs:
        table.add_row(d.id, d.kb, d.filename, d.status, str(d.pages), str(d.chunks))
    Console().print(table)


@app.command()
def extract(
    ctx: typer.Context,
    kb: str = typer.Option(..., "--kb", help="Knowledge base name."),
    schema: str = typer.Option(
        "contract", "--schema", help="A built-in schema (contract) or a YAML/JSON file."
    ),
    doc: list[str] = typer.Option(None, "--doc", help="Only this document id (repeatable)."),
    as_json: bool = typer.Option(False, "--json", help="Print the table as JSON."),
    as_csv: bool = typer.Option(False, "--csv", help="Print the table as CSV, a row per document and field."),
) -> None:
    """Contract review: each schema field read from every document, with its page and clause."""
    spec = schema_argument(schema)
    with _progress() as bar:
        task = bar.add_task("read documents", total=None)

        def on_step(n: int, total: int) -> None:
            bar.update(task, completed=n, total=total)

        table = _run(_call(_settings(ctx), lambda b: b.extract(kb, doc or None, spec, on_step)))
    typer.echo(render(table, "json" if as_json else "csv" if as_csv else "table"), nl=False)


@app.command()
def calibrate(
    ctx: typer.Context,
    files: list[str] = typer.Option(
        None,
        "--files",
        help="A file, folder or glob to sample pages from (repeatable); default: the kb's documents.",
    ),
    kb: str | None = typer.Option(
        None, "--kb", help="The knowledge base: sampled without --files; --save sets its default."
    ),
    sample: int = typer.Option(
        10, "--sample", min=1, max=200, help="Pages to read, spread over the documents."
    ),
    tolerance: float = typer.Option(
        0.02, min=0.0, max=1.0, help="CER above the best mode's that still counts as good enough."
    ),
    save: bool = typer.Option(False, "--save", help="Save the recommended modes as the kb's default."),
    chart: Path = typer.Option(Path("calibration.svg"), "--chart", help="Write the chart (SVG) here."),
    truth: Path | None = typer.Option(
        None,
        "--truth",
        help="With --files: a folder of corrected text (NAME.txt, NAME.pN.txt) for pages with no text layer.",
    ),
    ocr_url: str | None = typer.Option(
        None, help="DeepSeek-OCR vLLM base URL, e.g. http://localhost:8000/v1."
    ),
    model: str | None = typer.Option(None, help="Model name served at --ocr-url."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Read a sample of pages in every DeepSeek mode; CER, tokens and seconds per mode and page kind, a chart,
    and the cheapest mode within the tolerance of the best for each kind (--save: the kb's default)."""
    from api.calibration_chart import render_chart
    from api.cli_calibrate import calibrate_files, print_result, read_corrected

    if not files and kb is None:
        raise CliError("say which pages to calibrate on: --files PATH (repeatable) or --kb NAME")
    if save and kb is None:
        raise CliError("--save needs --kb: the knowledge base whose default the recommendation becomes")
    kb = _check_kb(kb) if kb is not None else None
    settings = _with_ocr_server(_settings(ctx), ocr_url, model)
    corrected = read_corrected(truth)
    with _progress() as bar:
        task = bar.add_task("calibrate (pages x modes)", total=None)

        def on_step(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        if files:
            report = _run(calibrate_files(settings, files, sample, tolerance, corrected, on_step))
            result = CalibrationPublic(
                kb=kb or "", modes=report.recommended, report=report, chart_svg=render_chart(report)
            )
            if save and kb is not None:
                saving = kb
                result = _run(
                    _call(settings, lambda b: b.save_calibration(saving, report.recommended, report), False)
                )
        else:
            assert kb is not None
            calibrating = kb
            result = _run(
                _call(
                    settings, lambda b: b.calibrate_kb(calibrating, sample, tolerance, save, on_step), False
                )
            )
    chart.write_text(result.chart_svg or "", encoding="utf-8")
    if as_json:
        _echo_json(result.model_dump(mode="json", exclude={"chart_svg"}))
    else:
        print_result(result, save, chart)


@app.command()
def reindex(
    ctx: typer.Context,
    kb: str = typer.Option(..., "--kb", help="The knowledge base to re-embed."),
) -> None:
    """Re-chunk and re-embed a knowledge base from its saved layouts (no OCR), with the configured
    embedder: needed after changing the embedder, which a kb built with another one refuses."""

    async def run(backend: Backend) -> list[JobPublic]:
        jobs = await backend.reindex_kb(_check_kb(kb))
        done: list[JobPublic] = []
        with _progress() as bar:
            task = bar.add_task(f"reindex {kb}", total=len(jobs))
            for job_id in jobs:
                done.append(await backend.wait_job(job_id, lambda _job: None))
                bar.advance(task)
        return done

    finished = _run(_call(_settings(ctx), run))
    failed = [job for job in finished if job.state not in ("done", "partial")]
    typer.echo(f"reindexed {len(finished) - len(failed)} of {len(finished)} documents in {kb}", err=True)
    if failed:
        raise typer.Exit(1)


@docs_app.command("delete")
def docs_delete(
    ctx: typer.Context,
    doc_ids: list[str] = typer.Argument(..., help="Document ids (see `opticite docs list`)."),
) -> None:
    """Delete documents: vectors, files and records."""

    async def delete_all(backend: Backend) -> None:
        for doc_id in doc_ids:
            await backend.delete(doc_id)
            typer.echo(f"deleted {doc_id}", err=True)

    _run(_call(_settings(ctx), delete_all))


@app.command()
def serve(
    ctx: typer.Context,
    host: str = typer.Option(
        "127.0.0.1", help="Interface to listen on; another than loopback needs api_keys or http.open_access."
    ),
    port: int = typer.Option(8000, help="Port (0 = any free port)."),
) -> None:
    """Run the API and web UI; CLI commands on the same data directory then go through it."""
    import uvicorn

    from api.app import create_app
    from api.guard import check_exposure
    from api.server_info import SERVER_KEEP_ALIVE_S, AnnouncingServer

    settings = _settings(ctx)
    check_exposure(settings, host)
    if host not in ("0.0.0.0", "::"):  # the address served on is a Host name clients will use
        settings.http.allowed_hosts.append(host)
    running = read_server_info(settings.data_dir)
    if running is not None:
        raise CliError(f"a server (pid {running.pid}) already serves {settings.data_dir} at {running.url}")
    config = uvicorn.Config(
        create_app(settings), host=host, port=port, timeout_keep_alive=SERVER_KEEP_ALIVE_S
    )
    AnnouncingServer(
        config, settings.data_dir, on_ready=lambda url: typer.echo(f"opticite is serving on {url}")
    ).run()


@app.command()
def worker(
    ctx: typer.Context,
    concurrency: int = typer.Option(4, min=1, help="Jobs processed at once (threads)."),
    check: bool = typer.Option(
        False, "--check", help="Exit 0 if this host's worker consumes the queue, else 1."
    ),
) -> None:
    """Run a Celery worker for the job queue (needs runner: celery and a Qdrant server)."""
    settings = _settings(ctx)
    if check:  # the container healthcheck: ask the running worker over the broker
        from api.worker_health import worker_consumes_queue

        raise typer.Exit(0 if worker_consumes_queue(settings) else 1)
    if settings.embedded_store() and not settings.jobs.allow_embedded_store_with_celery:
        raise CliError(
            f"the settings use an embedded vector store ({settings.store_config().path}), which only one "
            "process can open: workers need a Qdrant server. Set store.url (OPTICITE_STORE__URL) and "
            "runner: celery, as configs/compose.yaml does."
        )
    if settings.runner != "celery":
        raise CliError(
            "runner is 'inprocess': jobs run inside `opticite serve`. Set runner: celery to use workers."
        )
    from api.jobs.celery import run_worker  # heavy (celery, the pipeline); the CLI starts without it

    run_worker(settings, concurrency=concurrency)


@app.command()
def mcp(ctx: typer.Context) -> None:
    """Serve the MCP tools (search, ask, get_region, list_documents, get_document_markdown) over stdio."""
    from api.mcp_server import serve_stdio

    settings = _settings(ctx)
    running = read_server_info(settings.data_dir)
    if running is not None:  # it holds the store and serves the same tools itself
        raise CliError(
            f"a server (pid {running.pid}) holds {settings.data_dir}: point the MCP client at "
            f"{running.url}/mcp instead (with an API key when the server has keys)"
        )

    async def serve(backend: Backend) -> None:
        if not isinstance(backend, LocalBackend):
            raise CliError("a server started meanwhile on this data directory; connect to its /mcp URL")
        await serve_stdio(backend.services)

    _run(_call(settings, serve))


def main() -> None:
    app()


if __name__ == "__main__":
    main()
