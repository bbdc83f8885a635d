"""/v1/ocr: OCR an uploaded image or PDF and return Markdown + blocks, storing nothing."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile

from api.deps import KeyDep, ServicesDep, SettingsDep
from api.routes.documents import build_options
from api.schemas import OcrResult
from api.uploads import save_upload

router = APIRouter(tags=["ocr"])


@router.post("/ocr", response_model=OcrResult)
async def ocr(
    request: Request,
    services: ServicesDep,
    settings: SettingsDep,
    _scope: KeyDep,  # any valid key may OCR; nothing is stored
    file: Annotated[UploadFile, File()],
    engine: Annotated[str | None, Form()] = None,
    mode: Annotated[str | None, Form()] = None,
    prompt: Annotated[str | None, Form()] = None,
    preprocess: Annotated[str | None, Form()] = None,
    locate_text: Annotated[str | None, Form(description="the text to find (prompt=locate)")] = None,
    kinds: Annotated[str | None, Form(description="engine per page kind: screenshot=vlm,drawing=vlm")] = None,
) -> OcrResult:
    options = build_options(settings, engine, mode, prompt, preprocess, locate_text, kinds)
    with services.stage_upload(file.filename) as staged:
        await save_upload(file, request, settings.max_upload_bytes, staged)
        return await services.ocr_request(staged, options)
