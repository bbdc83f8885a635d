"""The CLI's files: expanding paths, folders and globs into documents, and writing OCR results."""

from __future__ import annotations

import glob
import json
from pathlib import Path

from api.schemas import OcrResult
from ingest.errors import OpticiteError

SNIFF_BYTES = 1024


class CliError(OpticiteError):
    """A mistake on the command line (a missing file, an unusable setting); `message` is for the user."""

    code = "cli_error"
    status = 400


def expand_paths(patterns: list[str]) -> list[Path]:
    """Files as named, folders searched recursively for PDFs and images, globs expanded; no duplicates.

    A file named explicitly is kept whatever it holds (ingestion refuses it with a reason); inside
    folders and globs only files whose content is a supported format are picked up.
    """
    found: dict[Path, None] = {}
    for pattern in patterns:
        path = Path(pattern).expanduser()
        if path.is_file():
            found[path] = None
        elif path.is_dir():
            found.update(dict.fromkeys(_documents_in(path)))
        else:
            matches = sorted(Path(m) for m in glob.glob(str(path), recursive=True))
            if not matches:
                raise CliError(f"{pattern}: no such file, folder or matching glob")
            for match in matches:
                if match.is_dir():
                    found.update(dict.fromkeys(_documents_in(match)))
                elif _is_document(match):
                    found[match] = None
    if not found:
        raise CliError(f"no PDF or image found in {', '.join(patterns)}")
    return list(found)


def _documents_in(folder: Path) -> list[Path]:
    return [p for p in sorted(folder.rglob("*")) if _is_document(p)]


def _is_document(path: Path) -> bool:
    if not path.is_file() or path.name.startswith("."):
        return False
    from ingest.sources import sniff_format  # PyMuPDF loads slowly; --help should not wait for it

    try:
        with path.open("rb") as fh:
            return sniff_format(fh.read(SNIFF_BYTES)) is not None
    except OSError:
        return False


def ocr_json(result: OcrResult, source: Path) -> dict[str, object]:
    return {"file": str(source), **result.model_dump()}


def write_ocr_result(result: OcrResult, source: Path, fmt: str, out: Path | None) -> Path | None:
    """Write `out/STEM.md` or `out/STEM.json`; None when there is no `out` (the caller prints)."""
    if out is None:
        return None
    out.mkdir(parents=True, exist_ok=True)
    target = out / f"{source.stem}.{fmt}"
    if fmt == "json":
        target.write_text(
            json.dumps(ocr_json(result, source), ensure_ascii=False, indent=2), encoding="utf-8"
        )
    else:
        target.write_text(result.markdown, encoding="utf-8")
    return target
