"""/v1/samples: the web UI's first-run button; generates the sample contract + scan and ingests them."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from pathlib import Path

from fastapi import APIRouter

from api.auth import require_kb
from api.deps import KeyDep, ServicesDep
from api.responses import CONFLICT
from api.samples import make_samples
from api.schemas import KbName, Strict, SubmissionPublic

router = APIRouter(tags=["samples"])


class SamplesRequest(Strict):
    kb: KbName = "samples"


@router.post("/samples", status_code=202, responses=CONFLICT)
async def ingest_samples(
    services: ServicesDep, scope: KeyDep, body: SamplesRequest | None = None
) -> dict[str, list[SubmissionPublic]]:
    kb = (body or SamplesRequest()).kb
    require_kb(scope, kb)
    folder = Path(tempfile.mkdtemp(dir=services.settings.uploads_dir, prefix="samples-"))
    submissions = []
    for path in await asyncio.to_thread(make_samples, folder):
        submissions.append(await services.ingest(path, path.name, kb))
    await asyncio.to_thread(shutil.rmtree, folder, True)
    return {"documents": submissions}
