"""What an OCR review correction costs: one page corrected (only the chunks that changed embedded
again, `Pipeline.reindex_page`) against re-indexing the whole document from its layouts.

A generated contract-like PDF (text layer) is ingested in process with the default embedder; then one
page in the middle is corrected through `api.ocr_review.correct`, and the document is reindexed
(`Services.reindex`). Chunk texts embedded are counted at the embedder (`embed_passages`).

    nice -n 10 .venv/bin/python bench/ocr_review_cost.py --pages 40   # writes bench/results/ocr_review_cost.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from api import ocr_review  # noqa: E402
from api.services import open_services  # noqa: E402
from api.settings import load_settings  # noqa: E402
from tests.support.documents import make_pdf  # noqa: E402


async def measure(pages: int, folder: Path) -> dict[str, Any]:
    settings = load_settings(data_dir=folder / "data", review={"rate": 1.0})
    async with open_services(settings) as services:
        pdf = make_pdf(folder / "long.pdf", pages=pages, seed="bench")
        with services.stage_upload(pdf.name) as staged:
            staged.write_bytes(pdf.read_bytes())
            sub = await services.ingest(staged, staged.name, "bench")
        await services.wait_job(sub.job_id)
        embedder = services.components.knowledge_base().embedder
        embedded: list[int] = []
        embed_passages = embedder.embed_passages

        def counting(texts: Any) -> list[list[float]]:
            embedded.append(len(texts))
            return embed_passages(texts)

        embedder.embed_passages = counting  # type: ignore[method-assign]
        doc = sub.document_id
        page = pages // 2
        layout = services.files(doc).saved_layout(page)
        assert layout is not None
        fix = ocr_review.BlockCorrection(block=len(layout.blocks) - 1, markdown="Corrected by the reviewer.")
        started = time.perf_counter()
        verdict = await ocr_review.correct(services, "bench", doc, page, [fix], "bench")
        correct_s = time.perf_counter() - started
        corrected_chunks = sum(embedded)
        embedded.clear()
        started = time.perf_counter()
        job = await services.wait_job(await services.reindex(doc))
        reindex_s = time.perf_counter() - started
        assert job.state == "done", job
    return {
        "pages": pages,
        "chunks": verdict.chunks,
        "correction": {"seconds": round(correct_s, 2), "chunks_embedded": corrected_chunks},
        "whole_reindex": {"seconds": round(reindex_s, 2), "chunks_embedded": sum(embedded)},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=40)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "ocr_review_cost.json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        result = asyncio.run(measure(args.pages, Path(tmp)))
    result |= {"machine": platform.node(), "date": datetime.now(UTC).isoformat(timespec="minutes")}
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
