"""Requests checked at the edge, over real HTTP on SQLite: kb names (uploads and samples share one
rule), readable errors for malformed `boxes`/`bbox`, and `created` always with a UTC offset."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest

from api.db import Database, DocumentRow
from api.errors import BadRequest
from api.routes.documents import parse_box, parse_boxes
from api.schemas import DocumentPublic
from ingest.layout import BBox
from tests.fakes.openai_server import EMBED_DIM, FakeLlmServer
from tests.support.documents import make_pdf
from tests.support.servers import LiveServer, read_sse, test_settings, upload

MALFORMED = ["0.1,0.2,0.3", "0.1,0.2,0.3,0.4,0.5", "a,b,c,d", "0.1,0.2,1.5,0.4", "-0.1,0,1,1", "nan,0,1,1"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, fake_llm_server: FakeLlmServer) -> Iterator[LiveServer]:
    """Embeddings from the fake OpenAI server, so no process loads a model."""
    data = tmp_path_factory.mktemp("checks") / "data"
    embedder = {"backend": "http", "url": fake_llm_server.url, "dim": EMBED_DIM}
    with LiveServer(test_settings(data, embedder=embedder)) as live:
        yield live


@pytest.fixture
def client(server: LiveServer) -> Iterator[httpx.Client]:
    with server.client() as client:
        yield client


@pytest.fixture(scope="module")
def doc_id(server: LiveServer, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A one-page text PDF, ingested."""
    pdf = make_pdf(tmp_path_factory.mktemp("pdf") / "one.pdf", pages=1, seed="checks")
    with server.client() as client:
        reply = upload(client, pdf, kb="checks")
        assert reply.status_code == 202, reply.text
        assert read_sse(client, f"/v1/jobs/{reply.json()['job_id']}/events")[-1][1]["state"] == "done"
        return str(reply.json()["document_id"])


# --- kb names ------------------------------------------------------------------------------------
@pytest.mark.parametrize("kb", ["bad kb/x", "../up", "-dash", "x" * 101])
def test_samples_refuse_a_kb_name_uploads_refuse(
    server: LiveServer, client: httpx.Client, tmp_path: Path, kb: str
) -> None:
    before = client.get("/v1/documents").json()["total"]
    reply = client.post("/v1/samples", json={"kb": kb})
    assert reply.status_code == 422 and reply.json()["error"]["code"] == "invalid_request", reply.text
    assert "kb" in reply.json()["error"]["message"]
    assert client.get("/v1/documents").json()["total"] == before
    assert list(server.settings.uploads_dir.iterdir()) == []
    refused = upload(client, make_pdf(tmp_path / "k.pdf", pages=1), kb=kb)
    assert refused.status_code == 422, refused.text


# --- boxes -------------------------------------------------------------------------------------
@pytest.mark.parametrize("value", MALFORMED)
def test_a_malformed_box_names_the_parameter_and_the_expected_form(value: str) -> None:
    for parse, param in ((parse_boxes, "boxes"), (lambda v: [parse_box(v, "bbox")], "bbox")):
        with pytest.raises(BadRequest) as caught:
            parse(f"0,0,1,1;{value}" if param == "boxes" else value)
        message = caught.value.message
        assert message.startswith(f"{param}: {value!r} is not a box") and "x0,y0,x1,y1" in message
        assert "0..1" in message and "pydantic" not in message and "zip()" not in message


def test_well_formed_boxes_parse_in_order() -> None:
    assert parse_boxes("0.1,0.2,0.3,0.4; 0,0,1,1;") == [
        BBox(x0=0.1, y0=0.2, x1=0.3, y1=0.4),
        BBox(x0=0, y0=0, x1=1, y1=1),
    ]
    assert parse_boxes(None) == [] and parse_box(" 0, 0, 0.5, 1 ", "bbox") == BBox(x0=0, y0=0, x1=0.5, y1=1)


@pytest.mark.parametrize(
    ("path", "param", "value"),
    [
        ("image", "boxes", "0.1,0.2,0.3"),
        ("crop", "bbox", "0.1,0.2,0.3,0.4,0.5"),
        ("crop", "bbox", "0,0,1,1;0,0,1,1"),
    ],
)
def test_page_routes_answer_a_malformed_box_with_a_readable_400(
    client: httpx.Client, doc_id: str, path: str, param: str, value: str
) -> None:
    reply = client.get(f"/v1/documents/{doc_id}/pages/1/{path}", params={param: value})
    error = reply.json()["error"]
    assert (reply.status_code, error["code"]) == (400, "bad_request"), error
    assert error["message"].startswith(f"{param}: ") and "x0,y0,x1,y1" in error["message"]
    assert "pydantic" not in error["message"]
    ok = client.get(f"/v1/documents/{doc_id}/pages/1/{path}", params={param: "0.1,0.1,0.5,0.2"})
    assert ok.status_code == 200 and ok.headers["content-type"] == "image/png"


# --- timestamps --------------------------------------------------------------------------------
def test_created_carries_a_utc_offset_on_sqlite(client: httpx.Client, doc_id: str) -> None:
    listed = client.get("/v1/documents", params={"kb": "checks"}).json()["documents"][0]["created"]
    detail = client.get(f"/v1/documents/{doc_id}").json()["created"]
    for value in (listed, detail):
        created = datetime.fromisoformat(value)
        assert created.utcoffset() == timedelta(0), value
        assert abs(datetime.now(UTC) - created) < timedelta(minutes=10)


def test_document_public_from_a_sqlite_row_is_utc(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path}/m.db")
    db.create_all()
    with db.session() as s:
        s.add(DocumentRow(id="d1", kb="kb", filename="a.pdf", sha256="x" * 64))
    with db.session() as s:
        row = s.get_one(DocumentRow, "d1")
        assert row.created.tzinfo is None  # what SQLite gives back
        doc = DocumentPublic.from_row(row)
    db.dispose()
    assert doc.created.tzinfo is UTC and doc.created.replace(tzinfo=None) == row.created


def test_an_aware_created_is_given_in_utc() -> None:
    paris = datetime(2025, 1, 1, 11, tzinfo=timezone(timedelta(hours=1)))
    doc = DocumentPublic(
        id="d", kb="k", filename="f", sha256="s", status="done", pages=1, chunks=1, created=paris
    )
    assert doc.model_dump(mode="json")["created"] == "2025-01-01T10:00:00Z"
