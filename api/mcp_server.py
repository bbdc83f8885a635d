"""The MCP server: search, cited answers and documents as tools for agents (the official `mcp` SDK).

One tool set serves two transports: `opticite mcp` (stdio; the local data directory, every kb) and
`/mcp` on the HTTP app (streamable HTTP behind the API keys; each call sees only its key's kbs).
Boxes are `[x0, y0, x1, y1]` in 0..1 of the page, top-left origin, as everywhere in the API.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Annotated, Any

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.utilities.types import Image
from mcp.server.transport_security import TransportSecuritySettings
from pydantic import Field
from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import Receive, Scope, Send

from api.auth import key_scope
from api.errors import INTERNAL_ERROR, SERVICE_FAULTS, Unauthorized, public_message
from api.services import Kbs, Services, scope_filters
from ingest.errors import OpticiteError
from ingest.layout import BBox
from retrieval.hits import SearchFilters

log = logging.getLogger(__name__)
INSTRUCTIONS = (
    "opticite answers questions from document collections (knowledge bases, 'kbs') and cites the exact "
    "place on the page: each citation has doc_id, page and bbox ([x0, y0, x1, y1] in 0..1 of the page) "
    "and, for contracts, the clause. Use `ask` for an answer with citations, `search` for passages, "
    "`get_region` to see a cited box as an image, `list_documents` and `get_document_markdown` to read."
)
MARKDOWN_CHARS = 50_000  # one `get_document_markdown` page: fits an agent's context

Query = Annotated[str, Field(min_length=1, max_length=4000, description="What to look for, in any language.")]
KbName = Annotated[str | None, Field(description="The knowledge base; omitted: every kb you may read.")]
DocIds = Annotated[list[str] | None, Field(description="Only these documents (ids from list_documents).")]
TopK = Annotated[int, Field(ge=1, le=50, description="How many passages to use.")]
Unit = Annotated[float, Field(ge=0, le=1)]

ServicesOf = Callable[[], Services]
ScopeOf = Callable[[Context, Services], Kbs]


@contextmanager
def tool_errors() -> Iterator[None]:
    """Our typed errors become tool errors the agent reads (code and what to do), never a crash.
    As in the HTTP API, a service fault's message (internal URLs, exception text) and any other
    exception stay in the log: the agent gets the code and a fixed sentence."""
    try:
        yield
    except OpticiteError as exc:
        if exc.code in SERVICE_FAULTS:
            log.warning("mcp tool: %s: %s", exc.code, exc.message)
        raise ToolError(f"{exc.code}: {public_message(exc.code, exc.message)}") from exc
    except Exception as exc:
        log.exception("mcp tool failed", exc_info=exc)
        raise ToolError(f"internal_error: {INTERNAL_ERROR}") from exc


def every_kb(_ctx: Context, _services: Services) -> Kbs:
    """stdio: the local operator, who owns the data directory, reads every kb."""
    return None


def key_kbs(ctx: Context, services: Services) -> Kbs:
    """HTTP: the kbs of the API key the request carries (checked again here, per call)."""
    headers = ctx.headers or {}
    return key_scope(services.settings, headers.get("authorization"), headers.get("x-api-key"))


def build_mcp(services_of: ServicesOf, scope_of: ScopeOf) -> MCPServer:
    """The tools over the services `services_of` gives, each call limited to the kbs `scope_of` allows."""
    # the SDK calls logging.basicConfig with this level: WARNING leaves the process's logging as it was
    mcp: MCPServer = MCPServer("opticite", instructions=INSTRUCTIONS, version="0.1.0", log_level="WARNING")

    def caller(ctx: Context) -> tuple[Services, Kbs]:
        services = services_of()
        return services, scope_of(ctx, services)

    @mcp.tool()
    async def search(
        ctx: Context, query: Query, kb: KbName = None, doc_ids: DocIds = None, top_k: TopK = 8
    ) -> dict[str, Any]:
        """Hybrid search: the passages that best match `query`, each with its pages and regions."""
        with tool_errors():
            services, kbs = caller(ctx)
            hits = await services.search(query, SearchFilters(kb=kb, doc_ids=doc_ids), top_k=top_k, kbs=kbs)
            return {"results": [hit.to_public() for hit in hits]}

    @mcp.tool()
    async def ask(
        ctx: Context, question: Query, kb: KbName = None, doc_ids: DocIds = None, top_k: TopK = 8
    ) -> dict[str, Any]:
        """An answer with [n] markers and its citations: doc_id, quote, clause, label (§ and page) and
        regions ({page, bbox}); pass a citation's doc_id, page and bbox to `get_region` to see it.
        `refused` is true when the documents do not answer the question."""
        with tool_errors():
            services, kbs = caller(ctx)
            answer = await services.ask(question, SearchFilters(kb=kb, doc_ids=doc_ids), top_k, kbs)
            return answer.to_public()

    @mcp.tool()
    async def get_region(
        ctx: Context,
        doc_id: str,
        page: Annotated[int, Field(ge=1, description="1-based page number.")],
        bbox: Annotated[
            list[Unit], Field(min_length=4, max_length=4, description="[x0, y0, x1, y1] in 0..1.")
        ],
        margin: Annotated[
            float, Field(ge=0, le=0.2, description="Extra border, a share of the page.")
        ] = 0.01,
    ) -> Image:
        """The cited part of a page as a PNG image (a citation's region, or any box on the page)."""
        with tool_errors():
            services, kbs = caller(ctx)
            box = BBox.model_validate(bbox)
            png = await asyncio.to_thread(services.page_crop, doc_id, page, box, margin, kbs)
            return Image(data=png, format="png")

    @mcp.tool()
    async def list_documents(
        ctx: Context,
        kb: KbName = None,
        limit: Annotated[int, Field(ge=1, le=200)] = 50,
        offset: Annotated[int, Field(ge=0)] = 0,
    ) -> dict[str, Any]:
        """Documents newest first: id, kb, filename, status (done, partial, failed…), pages, chunks."""
        with tool_errors():
            services, kbs = caller(ctx)
            if kb is not None:
                scope_filters(SearchFilters(kb=kb), kbs)  # forbidden for another key's kb
            wanted = [kb] if kb is not None else kbs
            docs, total = await asyncio.to_thread(services.list_documents, wanted, None, limit, offset)
            return {"documents": [d.model_dump(mode="json") for d in docs], "total": total}

    @mcp.tool()
    async def get_document_markdown(
        ctx: Context,
        doc_id: str,
        offset: Annotated[int, Field(ge=0, description="Character to start from (next_offset).")] = 0,
    ) -> dict[str, Any]:
        """A document as Markdown with page marks, up to 50,000 characters a call; `next_offset` is
        where the next call starts (null at the end)."""
        with tool_errors():
            services, kbs = caller(ctx)
            markdown = await asyncio.to_thread(services.markdown, doc_id, kbs)
            end = offset + MARKDOWN_CHARS
            return {
                "doc_id": doc_id,
                "markdown": markdown[offset:end],
                "total_chars": len(markdown),
                "next_offset": end if end < len(markdown) else None,
            }

    return mcp


class McpEndpoint:
    """`/mcp` on the HTTP app: MCP's streamable HTTP, answering 401 without a valid API key.

    Stateless (each request stands alone), so several API replicas need no session affinity.
    The Host header is left to the app: the SDK's DNS-rebinding check would refuse any name but
    localhost, and the API keys guard this endpoint as they guard the rest of the API.
    """

    def __init__(self, services_of: ServicesOf) -> None:
        self.services_of = services_of
        server = build_mcp(services_of, key_kbs)
        server.streamable_http_app(  # builds the session manager; its own Starlette app is not used
            stateless_http=True,
            json_response=True,
            transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
        )
        self.manager = server.session_manager

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        async with self.manager.run():
            yield

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = Headers(scope=scope)
        try:
            key_scope(self.services_of().settings, headers.get("authorization"), headers.get("x-api-key"))
        except Unauthorized as exc:
            body = {"error": {"code": exc.code, "message": exc.message}}
            reply = JSONResponse(body, status_code=401, headers={"WWW-Authenticate": "Bearer"})
            await reply(scope, receive, send)
            return
        await self.manager.handle_request(scope, receive, send)


async def serve_stdio(services: Services) -> None:
    """`opticite mcp`: the tools over stdin/stdout for a local client (Claude Desktop, IDEs)."""
    await build_mcp(lambda: services, every_kb).run_stdio_async()
