"""The ASGI application behind ``sybilgraph serve``: GraphQL at ``/graphql``, probes beside it.

``create_app`` checks the configuration (production, the default, refuses to start insecurely),
builds the process-wide state (async driver, masker and handles, audit log and its checkpoint,
limits, document and response caches, attribution runner) and puts the request pipeline
(``gateway.py``) at ``POST /graphql``. FastAPI serves the rest: ``/healthz``, ``/readyz``, case
files at ``GET /reports/operators/{id}`` (through the same gateway, ``reports.py``) and, in
development only, GraphiQL from files shipped in the package (``graphiql.py``). ``HttpGuard`` wraps everything: a request body limit and
``no-store`` on answers about people.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sybilgraph.api.audit import AuditLog
from sybilgraph.api.auth import Authenticator
from sybilgraph.api.cache import DataVersion, ResponseCache
from sybilgraph.settings.api import ApiSection, check_production, load_key_table
from sybilgraph.api.context import AppState
from sybilgraph.api.db import AsyncDatabase
from sybilgraph.api.documents import DocumentStore, load_trusted_documents
from sybilgraph.api.errors import DatabaseUnavailableError
from sybilgraph.api.gateway import Answer, Gateway
from sybilgraph.api.graphiql import graphiql_page, graphiql_static_router
from sybilgraph.api.handles import HandleCodec
from sybilgraph.api.masking import Masker
from sybilgraph.api.origin import TrustedProxies
from sybilgraph.api.ratelimit import RateLimiter
from sybilgraph.api.reports import report_router
from sybilgraph.api.runner import (
    AttributionRunner,
    RunAttribution,
    attribution_not_available,
)
from sybilgraph.api.schema import build_schema, validation_rules
from sybilgraph.settings import Settings

__all__ = ["app_from_environment", "create_app", "request_headers", "to_response"]

log = logging.getLogger("sybilgraph.api")

GRAPHQL_PATHS = ("/graphql", "/graphql/")


class HttpGuard:
    """Pure ASGI (no per-request task group): refuses bodies over ``limit`` bytes (declared or
    streamed) with 413, and marks every answer ``no-store`` / ``nosniff``: they are about people."""

    HEADERS = ((b"cache-control", b"no-store"), (b"x-content-type-options", b"nosniff"))

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", [])}
                extra = [h for h in self.HEADERS if h[0] not in present]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await _too_large(self.limit)(scope, receive, send_with_headers)
            return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise _BodyTooLarge()
            return message

        try:
            await self.app(scope, limited, send_with_headers)
        except _BodyTooLarge:
            await _too_large(self.limit)(scope, receive, send_with_headers)


class _BodyTooLarge(Exception):
    pass


def _too_large(limit: int) -> JSONResponse:
    return JSONResponse({"detail": f"Request body larger than {limit} bytes."}, status_code=413)


class GraphQLEndpoint:
    """``POST /graphql`` straight to the gateway (no router or middleware stack per request)."""

    def __init__(self, app: ASGIApp, gateway: Gateway) -> None:
        self.app = app
        self.gateway = gateway

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] not in GRAPHQL_PATHS:
            await self.app(scope, receive, send)
            return
        chunks = []
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        headers: dict[str, str] = {}
        for k, v in scope.get("headers") or ():
            name, value = k.decode("latin-1").lower(), v.decode("latin-1")
            # Repeated headers are one list (RFC 9110 5.3): X-Forwarded-For may come in several.
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        client = scope.get("client")
        answer = await self.gateway.handle(b"".join(chunks), headers, client[0] if client else "unknown")
        await send({
            "type": "http.response.start",
            "status": answer.status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(answer.body)).encode()),
                        *answer.headers],
        })
        await send({"type": "http.response.body", "body": answer.body})


def request_headers(request: Request) -> dict[str, str]:
    """A request's headers as the gateway reads them (lower-case names, repeated ones joined)."""
    out: dict[str, str] = {}
    for name, value in request.headers.items():
        out[name] = f"{out[name]}, {value}" if name in out else value
    return out


def to_response(answer: Answer) -> Response:
    """A gateway ``Answer`` as a Starlette response (for routes that go through ``Gateway.rest``)."""
    headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in answer.headers}
    return Response(answer.body, status_code=answer.status, headers=headers)


def _state(settings: Settings, api: ApiSection, production: bool, run_attribution: RunAttribution | None,
           schema_rules: list[type]) -> tuple[AppState, object]:
    table = load_key_table(api, production)
    if production:
        check_production(api, table)
    db = AsyncDatabase(settings, api)
    schema = build_schema()
    trusted = load_trusted_documents(api.trusted_documents) if api.trusted_documents else {}
    mask_secret = api.mask_secret(production)

    async def read_version() -> str:
        rows = await db.run("api/read_data_version", {}, write=False, timeout_s=2.0)
        r = rows[0]
        return f"{','.join(sorted(r['runs']))}|{r['version']}|{r['ingests']}|{r['last_ingest']}"

    state = AppState(
        settings=settings,
        api=api,
        production=production,
        db=db,
        masker=Masker(mask_secret),
        handles=HandleCodec(mask_secret),
        audit=AuditLog(audit_path(settings, api), api.audit_secret(production), fsync=api.audit_fsync),
        authenticator=Authenticator(table),
        proxies=TrustedProxies(api.trusted_proxies, api.trusted_proxy_count),
        limiter=RateLimiter(),
        documents=DocumentStore(schema._schema, schema_rules, api.max_tokens, trusted, hide_suggestions=production),
        cache=ResponseCache(api.cache_max_bytes, api.cache_max_age_s),
        version=DataVersion(read_version, api.cache_check_interval_s),
        runner=AttributionRunner(run_attribution or attribution_not_available, settings, db),
    )
    return state, schema


def audit_path(settings: Settings, api: ApiSection) -> Path:
    return api.audit_file(settings.home)


def create_app(
    settings: Settings,
    *,
    production: bool | None = None,
    run_attribution: RunAttribution | None = None,
    api_settings: ApiSection | None = None,
) -> FastAPI:
    """The ASGI app. ``run_attribution(settings, run_id) -> run id`` backs ``startAttributionRun``.

    Production unless the settings (``api.production = false``) or ``production=False`` say
    otherwise: only development mode has demo keys, GraphiQL, introspection and suggestions.
    """
    api = api_settings if api_settings is not None else settings.api
    production = api.production if production is None else production
    state, schema = _state(settings, api, production, run_attribution, validation_rules(api, production))
    state.audit.open()  # a torn tail is repaired now, not on the first request
    gateway = Gateway(state, schema)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        checkpoints = asyncio.create_task(_checkpoint_loop(state))
        try:
            yield
        finally:
            checkpoints.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await checkpoints
            await _checkpoint(state)
            await state.close()

    app = FastAPI(
        title="sybilgraph",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None if production else "/openapi.json",
    )
    app.state.sybilgraph = state
    app.state.schema = schema
    app.state.gateway = gateway

    @app.get("/graphql", include_in_schema=False)
    @app.get("/graphql/", include_in_schema=False)
    async def graphiql(request: Request) -> Response:
        if production:
            return PlainTextResponse("Not Found", status_code=404)
        if "query" in request.query_params:
            return PlainTextResponse("queries are not allowed when using GET", status_code=400)
        return graphiql_page(request)  # GraphiQL from package files, no CDN (api/graphiql.py)

    if not production:  # GraphiQL's own files, only where GraphiQL is served
        app.include_router(graphiql_static_router())
    app.include_router(report_router(gateway))  # GET /reports/operators/{id}: case files (docs/report.md)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> JSONResponse:
        try:
            await state.db.verify()
        except DatabaseUnavailableError as e:
            return JSONResponse({"status": "unavailable", "reason": e.message}, status_code=503)
        return JSONResponse({"status": "ready"})

    app.add_middleware(GraphQLEndpoint, gateway=gateway)
    app.add_middleware(HttpGuard, limit=api.max_body_bytes)
    return app


async def _checkpoint(state: AppState) -> None:
    """Keep the audit log's head in Neo4j (best effort: the next tick tries again)."""
    head = state.audit.head
    if head.seq <= state.extra.get("checkpointed_seq", 0):
        return
    try:
        await state.db.run("api/merge_audit_checkpoint", {"log": str(state.audit.path.resolve()), "seq": head.seq,
                                                          "hash": head.hash}, write=True, timeout_s=5.0)
        state.extra["checkpointed_seq"] = head.seq
    except Exception as e:  # noqa: BLE001 - Neo4j away: the log itself is intact, retry later
        log.warning("audit checkpoint not written: %s", e)


async def _checkpoint_loop(state: AppState) -> None:
    while True:
        await asyncio.sleep(state.api.audit_checkpoint_interval_s)
        await _checkpoint(state)


def app_from_environment() -> FastAPI:
    """uvicorn ``--factory`` entry for several worker processes (``--workers N``), which need an
    import string rather than an app object: everything from the settings (production unless
    ``SYBILGRAPH_API_PRODUCTION=false``), attribution wired when ``SYBILGRAPH_API_RUN_ATTRIBUTION=1``."""
    from sybilgraph.api.runner import run_attribution_with_defaults

    settings = Settings()
    return create_app(settings, run_attribution=run_attribution_with_defaults if settings.api.run_attribution else None)
