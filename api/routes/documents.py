"""/v1/documents: upload, list, inspect, delete, reindex/retry, Markdown, layout, page images."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Query, Request, Response, UploadFile

from api.auth import require_kb
from api.calibration import apply_kb_modes, kb_modes
from api.deps import DocumentDep, KeyDep, ServicesDep, SettingsDep
from api.errors import BadRequest
from api.responses import BINARY, CONFLICT, NOT_FOUND, content
from api.schemas import (
    KB_PATTERN,
    DocumentDetail,
    DocumentList,
    JobPublic,
    ReindexRequest,
    SubmissionPublic,
)
from api.settings import Settings
from api.uploads import save_upload
from api.webhooks import check_target
from ingest.layout import BBox
from ingest.ocr.deepseek import resolve_prompt
from ingest.ocr.engine import KindRoute, OcrOptions, PreprocessOptions

router = APIRouter(prefix="/documents", tags=["documents"])
BOX_FORM = "x0,y0,x1,y1: 4 numbers in 0..1 of the page"
MAX_BOXES = 100  # highlights per page image: each is drawn on the full-size page
MAX_OFFSET = 2**31 - 1
SHA256_PATTERN = "^[0-9a-fA-F]{64}$"


def _split(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


def parse_boxes(value: str | None) -> list[BBox]:
    """The `boxes` query: `x0,y0,x1,y1;x0,...` in 0..1 of the page, at most MAX_BOXES."""
    parts = _split_boxes(value)
    if len(parts) > MAX_BOXES:
        raise BadRequest(f"boxes: {len(parts)} boxes; at most {MAX_BOXES} are drawn per request")
    return [parse_box(part, "boxes", f"{BOX_FORM}, boxes separated by ';'") for part in parts]


def parse_box(value: str, param: str, form: str = BOX_FORM) -> BBox:
    """One box `x0,y0,x1,y1` in 0..1; otherwise BadRequest naming `param` and the expected `form`."""
    try:
        values = [float(v) for v in value.split(",")]
    except ValueError:
        values = []
    if len(values) != 4 or not all(0 <= v <= 1 for v in values):  # NaN fails the range check too
        shown = value.strip() if len(value) <= 60 else value.strip()[:57] + "..."
        raise BadRequest(f"{param}: {shown!r} is not a box; expected {form}")
    return BBox.model_validate(values)


def _split_boxes(value: str | None) -> list[str]:
    return [p for p in (value or "").split(";") if p.strip()]


def build_options(
    settings: Settings,
    engine: str | None,
    mode: str | None,
    prompt: str | None,
    preprocess: str | None,
    locate_text: str | None = None,
    kinds: str | None = None,
) -> OcrOptions:
    """The upload's OCR options over the settings' defaults; a `locate` prompt needs `locate_text`."""
    base = settings.ocr.model_dump()
    fields = {"engine": engine, "mode": mode, "prompt": prompt, "locate_text": (locate_text or "").strip()}
    updates: dict[str, Any] = {k: v for k, v in fields.items() if v}
    if preprocess is not None:
        updates["preprocess"] = PreprocessOptions(**{name: True for name in _split(preprocess)})
    if kinds is not None:
        updates["kinds"] = KindRoute.parse_map(kinds)
    options = OcrOptions.model_validate(base | updates)
    resolve_prompt(options)  # BadOcrOption (422) now rather than a failed page later
    return options


@router.post("", status_code=202, response_model=SubmissionPublic, responses=CONFLICT)
async def upload_document(
    request: Request,
    services: ServicesDep,
    settings: SettingsDep,
    scope: KeyDep,
    file: Annotated[UploadFile, File()],
    kb: Annotated[str, Form(pattern=KB_PATTERN)] = "default",
    engine: Annotated[str | None, Form()] = None,
    mode: Annotated[str | None, Form()] = None,
    prompt: Annotated[str | None, Form()] = None,
    preprocess: Annotated[
        str | None, Form(description="comma list: denoise,clahe,deskew,binarize,perspective")
    ] = None,
    tags: Annotated[str | None, Form(description="comma-separated")] = None,
    force: Annotated[bool, Form()] = False,
    webhook_url: Annotated[str | None, Form()] = None,
    locate_text: Annotated[str | None, Form(description="the text to find (prompt=locate)")] = None,
    kinds: Annotated[str | None, Form(description="engine per page kind: screenshot=vlm,drawing=vlm")] = None,
) -> SubmissionPublic:
    require_kb(scope, kb)
    options = build_options(settings, engine, mode, prompt, preprocess, locate_text, kinds)
    if not mode:  # the kb's calibrated default modes; a mode named in the upload wins
        options = apply_kb_modes(options, await asyncio.to_thread(kb_modes, services, kb))
    if webhook_url:
        await check_target(webhook_url, settings.webhooks.allow_private_targets)
    with services.stage_upload(file.filename) as staged:
        await save_upload(file, request, settings.max_upload_bytes, staged)
        return await services.ingest(staged, staged.name, kb, options, _split(tags), force, webhook_url)


@router.get("", response_model=DocumentList)
def list_documents(
    services: ServicesDep,
    scope: KeyDep,
    kb: Annotated[str | None, Query()] = None,
    status: Annotated[str | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
    sha256: Annotated[
        str | None,
        Query(pattern=SHA256_PATTERN, description="the file's content hash: is this file already there?"),
    ] = None,
) -> DocumentList:
    if kb is not None:
        require_kb(scope, kb)
    kbs = [kb] if kb is not None else scope
    docs, total = services.list_documents(kbs, status, limit, offset, sha256)
    return DocumentList(documents=docs, total=total, limit=limit, offset=offset)


@router.get("/{doc_id}", response_model=DocumentDetail, responses=NOT_FOUND)
def get_document(document: DocumentDep) -> DocumentDetail:
    return document


@router.delete("/{doc_id}", status_code=204, response_class=Response, responses=NOT_FOUND)
async def delete_document(services: ServicesDep, scope: KeyDep, document: DocumentDep) -> Response:
    await services.delete_document(document.id, scope)
    return Response(status_code=204)


@router.post("/{doc_id}/reindex", status_code=202, response_model=JobPublic, responses=NOT_FOUND | CONFLICT)
async def reindex_document(
    services: ServicesDep, scope: KeyDep, document: DocumentDep, body: ReindexRequest | None = None
) -> JobPublic:
    job_id = await services.reindex(document.id, scope, retry_failed=bool(body and body.retry_failed))
    return services.get_job(job_id, scope)


@router.post("/{doc_id}/retry", status_code=202, response_model=JobPublic, responses=NOT_FOUND | CONFLICT)
async def retry_document(services: ServicesDep, scope: KeyDep, document: DocumentDep) -> JobPublic:
    job_id = await services.reindex(document.id, scope, retry_failed=True)
    return services.get_job(job_id, scope)


@router.get(
    "/{doc_id}/markdown",
    response_class=Response,
    responses=NOT_FOUND | {200: content("text/markdown", "the document as Markdown with page marks")},
)
def document_markdown(services: ServicesDep, scope: KeyDep, document: DocumentDep) -> Response:
    return Response(services.markdown(document.id, scope), media_type="text/markdown; charset=utf-8")


@router.get("/{doc_id}/layout", responses=NOT_FOUND)
def document_layout(services: ServicesDep, scope: KeyDep, document: DocumentDep) -> dict[str, Any]:
    layouts = services.layouts(document.id, scope)
    return {
        "document_id": document.id,
        "pages": [layout.model_dump(mode="json", exclude={"raw"}) for layout in layouts],
    }


@router.get(
    "/{doc_id}/pages/{page}/image",
    response_class=Response,
    responses=NOT_FOUND | {200: content("image/png", "the rendered page, boxes highlighted", BINARY)},
)
def page_image(
    services: ServicesDep,
    scope: KeyDep,
    document: DocumentDep,
    page: int,
    boxes: Annotated[str | None, Query(description="x0,y0,x1,y1;... in 0..1 of the page")] = None,
) -> Response:
    png = services.page_image(document.id, page, parse_boxes(boxes), scope)
    return Response(png, media_type="image/png")


@router.get(
    "/{doc_id}/pages/{page}/crop",
    response_class=Response,
    responses=NOT_FOUND | {200: content("image/png", "the box's part of the page", BINARY)},
)
def page_crop(
    services: ServicesDep,
    scope: KeyDep,
    document: DocumentDep,
    page: int,
    bbox: Annotated[str, Query(description="x0,y0,x1,y1 in 0..1 of the page")],
    margin: Annotated[float, Query(ge=0, le=0.5)] = 0.01,
) -> Response:
    box = parse_box(bbox, "bbox")
    return Response(services.page_crop(document.id, page, box, margin, scope), media_type="image/png")
