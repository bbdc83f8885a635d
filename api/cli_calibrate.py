"""`opticite calibrate`: the user's pages read in each DeepSeek mode, a table, a chart and a recommended mode per kind."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table

from api.cli_files import CliError, expand_paths
from api.schemas import CalibrationPublic
from ingest.calibration import CalibrationReport

if TYPE_CHECKING:
    from api.settings import Settings
    from ingest.calibration import SamplePage


def read_corrected(folder: Path | None) -> dict[tuple[str, int], str]:
    """Corrected text by (file name, page): `NAME.txt` is page 1 of NAME, `NAME.pN.txt` its page N,
    where NAME is the file's name with its extension (`scan.pdf.p2.txt`) or without (`scan.p2.txt`)."""
    if folder is None:
        return {}
    if not folder.is_dir():
        raise CliError(f"--truth {folder}: no such folder")
    found: dict[tuple[str, int], str] = {}
    for path in sorted(folder.glob("*.txt")):
        stem, _, page = path.stem.rpartition(".p")
        name, n = (stem, int(page)) if stem and page.isdigit() else (path.stem, 1)
        found[(name, n)] = path.read_text(encoding="utf-8")
    return found


def file_sample(files: list[str], n: int, settings: Settings) -> list[SamplePage]:
    from ingest.calibration import sample_pages
    from ingest.sources import open_source

    docs = []
    for path in expand_paths(files):
        with open_source(path, settings.source) as src:
            docs.append((path, path.name, src.page_count))
    return sample_pages(docs, n)


async def calibrate_files(
    settings: Settings,
    files: list[str],
    sample: int,
    tolerance: float,
    corrected: dict[tuple[str, int], str],
    on_step: Callable[[int, int], None],
) -> CalibrationReport:
    """Calibrate in this process on pages of the user's files (nothing is stored)."""
    from api.calibration import calibration
    from api.services import Services

    services = Services(settings)  # OCR only: no tables created, no store opened, no model loaded
    try:
        pages = await asyncio.to_thread(file_sample, files, sample, settings)
        # the sample's names are file names; corrected text may name a file without its extension
        by_stem = {(Path(name).stem, n): text for (name, n), text in corrected.items()}
        named = {
            (p.name, p.page): corrected.get((p.name, p.page)) or by_stem.get((Path(p.name).stem, p.page))
            for p in pages
        }
        truth = {key: text for key, text in named.items() if text is not None}
        return await calibration(services).run(pages, truth, tolerance, on_step)
    finally:
        await services.components.aclose()


def render_table(result: CalibrationPublic) -> Table:
    report = result.report
    table = Table(
        "kind", "mode", "pages", "CER", "vision tok", "output tok", "s/page", "", title="calibration"
    )
    if report is None:
        return table
    for s in report.stats:
        mark = "recommended" if report.recommended.get(s.kind) == s.mode else ""
        table.add_row(
            s.kind,
            s.mode,
            f"{s.pages}" + (f" ({s.failed} failed)" if s.failed else ""),
            _num(s.cer, "{:.3f}"),
            _num(s.vision_tokens, "{:.0f}"),
            _num(s.output_tokens, "{:.0f}"),
            f"{s.seconds:.2f}",
            mark,
        )
    return table


def _num(value: float | None, fmt: str) -> str:
    return "-" if value is None else fmt.format(value)


def print_result(result: CalibrationPublic, saved: bool, chart: Path | None) -> None:
    console = Console()
    console.print(render_table(result))
    report = result.report
    if report is not None:
        refs = sorted({f"{p.reference or 'none'}" for p in report.pages})
        console.print(
            f"{len({(p.name, p.page) for p in report.pages})} pages x {len(report.modes)} modes in "
            f"{report.seconds:.1f} s; reference: {', '.join(refs)}; tolerance {report.tolerance}",
            markup=False,
        )
    for kind, mode in result.modes.items():
        console.print(f"recommended for {kind}: {mode}", markup=False)
    if saved:
        console.print(f"saved as the default of kb {result.kb}", markup=False)
    if chart is not None:
        console.print(f"chart -> {chart}", markup=False)
