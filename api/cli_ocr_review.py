"""`opticite review next|accept|correct`: the OCR review queue of a kb from the command line."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import typer

from api.cli_backend import open_backend
from api.cli_files import CliError

review_app = typer.Typer(
    help="Review sampled OCR pages: see the next, accept it or correct blocks.", no_args_is_help=True
)


def _review(
    ctx: typer.Context,
    kb: str,
    action: str,
    doc_id: str = "",
    page: int = 0,
    body: dict[str, Any] | None = None,
) -> dict[str, Any]:
    from api.settings import load_settings

    settings = load_settings(ctx.find_root().obj)

    async def go() -> dict[str, Any]:
        async with open_backend(settings, needs_store=action == "correct") as backend:
            return await backend.review(kb, action, doc_id, page, body)

    return asyncio.run(go())


def _echo(data: object) -> None:
    typer.echo(json.dumps(data, ensure_ascii=False, indent=2))


def parse_block(value: str) -> dict[str, Any]:
    """`N=new text` as a block correction."""
    index, sep, text = value.partition("=")
    if not sep or not index.strip().isdigit():
        raise CliError(
            f"--block {value!r}: write the block's number, '=' and its new text, e.g. --block '3=Total'"
        )
    return {"block": int(index), "markdown": text.replace("\\n", "\n")}


@review_app.command("next")
def review_next(
    ctx: typer.Context,
    kb: str = typer.Option(..., "--kb", help="Knowledge base name."),
    as_json: bool = typer.Option(False, "--json", help="Print the page and its blocks as JSON."),
) -> None:
    """Show the next page waiting for review, block by block (numbers for `correct --block`)."""
    reply = _review(ctx, kb, "next")
    if as_json:
        _echo(reply)
        return
    item = reply["item"]
    if item is None:
        typer.echo(f"no page waits for review in kb {kb}")
        return
    typer.echo(
        f"{item['doc_id']} page {item['page']} ({item['filename']}; {item['reason']}, "
        f"{item['engine']}{'/' + item['mode'] if item['mode'] else ''}); {reply['pending']} waiting"
    )
    for block in item["blocks"]:
        typer.echo(f"[{block['index']}] {block['kind']}: {block['markdown']}")


@review_app.command("accept")
def review_accept(
    ctx: typer.Context,
    doc_id: str = typer.Argument(..., help="Document id."),
    page: int = typer.Argument(..., help="Page number.", min=1),
    kb: str = typer.Option(..., "--kb", help="Knowledge base name."),
    reviewer: str | None = typer.Option(None, "--reviewer", help="Your name (without API keys)."),
) -> None:
    """The page's OCR is right as it is."""
    verdict = _review(ctx, kb, "accept", doc_id, page, {"reviewer": reviewer} if reviewer else {})
    typer.echo(
        f"accepted; accept rate {verdict['window']['accept_rate']} over {verdict['window']['reviews']} reviews"
    )


@review_app.command("correct")
def review_correct(
    ctx: typer.Context,
    doc_id: str = typer.Argument(..., help="Document id."),
    page: int = typer.Argument(..., help="Page number.", min=1),
    kb: str = typer.Option(..., "--kb", help="Knowledge base name."),
    block: list[str] = typer.Option(
        ..., "--block", help="N=new text of block N (repeatable; \\n for a new line)."
    ),
    reviewer: str | None = typer.Option(None, "--reviewer", help="Your name (without API keys)."),
) -> None:
    """Replace blocks' text; the page is re-chunked and re-embedded, the old text kept."""
    body: dict[str, Any] = {"blocks": [parse_block(b) for b in block]}
    if reviewer:
        body["reviewer"] = reviewer
    verdict = _review(ctx, kb, "correct", doc_id, page, body)
    typer.echo(
        f"{verdict['state']}: {verdict['edit_distance']} characters changed, {verdict['chunks']} chunks; "
        f"accept rate {verdict['window']['accept_rate']} over {verdict['window']['reviews']} reviews"
    )
