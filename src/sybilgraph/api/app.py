"""The FastAPI application behind ``sybilgraph serve``: GraphQL at ``/graphql``, probes beside it.

``create_app`` checks the configuration (production refuses to start insecurely), builds the
process-wide state (async driver, masker, audit log, attribution runner) and mounts Strawberry.
The HTTP layer adds what GraphQL cannot: a request body limit, ``no-store`` caching on answers
about people, and a last masking pass so an unexpected error never leaves with its message.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from graphql import GraphQLError
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from strawberry.fastapi import GraphQLRouter
from strawberry.http import GraphQLHTTPResponse
from strawberry.types import ExecutionResult

from sybilgraph.api.audit import AuditLog
from sybilgraph.api.auth import Authenticator, client_ip
from sybilgraph.settings.api import check_production, load_key_table
from sybilgraph.api.context import ApiContext, AppState
from sybilgraph.api.db import AsyncDatabase
from sybilgraph.api.errors import INTERNAL_MESSAGE, DatabaseUnavailableError
from sybilgraph.api.extensions import error_code, is_expected
from sybilgraph.api.masking import Masker
from sybilgraph.api.runner import (
    AttributionRunner,
    RunAttribution,
    attribution_not_available,
)
from sybilgraph.api.schema import build_schema
from sybilgraph.settings import Settings

__all__ = ["app_from_environment", "create_app"]

log = logging.getLogger("sybilgraph.api")


class ApiRouter(GraphQLRouter[ApiContext, None]):
    """Strawberry's router with the last masking pass over every result, whatever its path."""

    async def process_result(self, request: Request, result: ExecutionResult) -> GraphQLHTTPResponse:
        if result.errors:
            result.errors = [_coded(e) if is_expected(e) else _masked(e) for e in result.errors]
        return await super().process_result(request, result)


def _coded(error: GraphQLError) -> GraphQLError:
    """Every error carries extensions.code (GraphQL's own syntax/validation errors included)."""
    if not (error.extensions or {}).get("code"):
        error.extensions = {**(error.extensions or {}), "code": error_code(error)}
    return error


def _masked(error: GraphQLError) -> GraphQLError:
    return GraphQLError(INTERNAL_MESSAGE, nodes=error.nodes, path=error.path, extensions={"code": "INTERNAL"})


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


def create_app(
    settings: Settings,
    *,
    production: bool | None = None,
    run_attribution: RunAttribution | None = None,
) -> FastAPI:
    """The ASGI app. ``run_attribution(settings) -> run id`` backs ``startAttributionRun``.

    Everything comes from ``settings.api``; ``production`` overrides ``settings.api.production``.
    """
    api = settings.api
    production = api.production if production is None else production
    table = load_key_table(api, production)
    if production:
        check_production(api, table)
    db = AsyncDatabase(settings, api)
    state = AppState(
        settings=settings,
        api=api,
        production=production,
        db=db,
        masker=Masker(api.mask_secret(production)),
        audit=AuditLog(api.audit_file(settings.home), fsync=api.audit_fsync),
        authenticator=Authenticator(table),
        runner=AttributionRunner(run_attribution or attribution_not_available, settings, db),
    )
    schema = build_schema(api, production)

    async def context_getter(request: Request) -> ApiContext:
        principal, failure = state.authenticator.authenticate(request)
        return ApiContext(state, principal, failure, client_ip(request, api.trusted_proxies))

    router = ApiRouter(
        schema,
        context_getter=context_getter,
        graphql_ide=None if production else "graphiql",
        allow_queries_via_get=False,  # queries in URLs end up in proxy and access logs
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
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
    app.include_router(router, prefix="/graphql")

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> JSONResponse:
        try:
            await db.verify()
        except DatabaseUnavailableError as e:
            return JSONResponse({"status": "unavailable", "reason": e.message}, status_code=503)
        return JSONResponse({"status": "ready"})

    app.add_middleware(HttpGuard, limit=api.max_body_bytes)
    return app


def app_from_environment() -> FastAPI:
    """uvicorn ``--factory`` entry for several worker processes (``--workers N``), which need an
    import string rather than an app object: everything from the settings (environment and TOML
    file), production when ``SYBILGRAPH_API_PRODUCTION=1``, attribution wired when
    ``SYBILGRAPH_API_RUN_ATTRIBUTION=1``."""
    from sybilgraph.api.runner import run_attribution_with_defaults

    settings = Settings()
    return create_app(
        settings,
        run_attribution=run_attribution_with_defaults if settings.api.run_attribution else None,
    )
