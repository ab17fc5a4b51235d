"""``GET /reports/operators/{id}``: an operator's case file (docs/report.md), as the API serves it.

The route goes through the gateway's REST path (``Gateway.rest``), so a case file is
authenticated, rate-limited, deadline-bound and audited exactly like a GraphQL operation: one
record (allowed, denied or failed, named ``report:operator``, naming the operator and its member
accounts) is written before anything is sent, and without it no page leaves. Viewers are
refused: a case file names accounts and their evidence, which is an analyst's work. The page is
masked for the caller's role with the app's ``Masker``.

The case is gathered and drawn in a worker thread (matplotlib and DuckDB block); its reads go
through the request's database handle on the event loop, inside the request's deadline (a
minute, ``REPORT_TIMEOUT_S``, or the query deadline if that is longer). At most
``MAX_CONCURRENT`` case files are drawn at once, so reports cannot starve GraphQL.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from sybilgraph.api.context import ApiContext
from sybilgraph.api.errors import BadInput, NotFound
from sybilgraph.api.gateway import Gateway
from sybilgraph.errors import ReportError
from sybilgraph.ingest.columnar import ColumnarStore
from sybilgraph.settings.api import Role

__all__ = ["CSP", "MAX_CONCURRENT", "OPERATION", "REPORT_TIMEOUT_S", "report_router"]

MAX_CONCURRENT = 2
# A case file is a dozen reads, one scan of the operator's interactions and eight charts: more than
# a query's deadline allows on a busy machine (the largest operator at scale 0.2 takes ~2 s alone).
REPORT_TIMEOUT_S = 60.0
OPERATION = "report:operator"
_OPERATOR_ID = re.compile(r"[\x21-\x7e]{1,128}")  # the contract's identifiers: 1-128 printable characters
# The page loads nothing: this policy makes the browser enforce it.
CSP = ("default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:; "
       "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")


def report_router(gateway: Gateway) -> APIRouter:
    router = APIRouter()
    slots = asyncio.Semaphore(MAX_CONCURRENT)

    @router.get("/reports/operators/{operator_id}", include_in_schema=False)
    async def operator_case_file(operator_id: str, request: Request) -> Response:
        from sybilgraph.api.app import request_headers, to_response

        async def produce(ctx: ApiContext) -> tuple[int, bytes, str]:
            if not _OPERATOR_ID.fullmatch(operator_id):
                raise BadInput("An operator id is 1 to 128 printable characters.")
            async with slots:
                html = await _case_file(ctx, operator_id, request.url.path)
            return 200, html.encode("utf-8"), "text/html; charset=utf-8"

        client = request.client.host if request.client else "unknown"
        answer = await gateway.rest(request_headers(request), client, OPERATION, Role.ANALYST, produce,
                                    timeout_s=max(REPORT_TIMEOUT_S, gateway.timeout_s))
        response = to_response(answer)
        if answer.status == 200:
            filename = re.sub(r"[^A-Za-z0-9_.-]", "_", operator_id)
            response.headers.update({
                "Content-Security-Policy": CSP,
                "Content-Disposition": f'inline; filename="case-{filename}.html"',
                "Referrer-Policy": "no-referrer",
            })
        return response

    return router


async def _case_file(ctx: ApiContext, operator_id: str, path: str) -> str:
    from sybilgraph.report.command import build_case

    loop = asyncio.get_running_loop()
    role = ctx.role

    def read(name: str, /, **params: Any) -> list[dict[str, Any]]:
        # From the worker thread: the statement runs on the event loop with the request's deadline.
        return asyncio.run_coroutine_threadsafe(ctx.db.read(name, **params), loop).result()

    def mask(kind: str, value: str, bin: str | None, last4: str | None) -> str:
        return ctx.mask(kind, value, bin=bin, last4=last4) or ""

    files = ColumnarStore(ctx.state.settings.columnar_dir).table_files("interactions")
    command = (f"GET {path} (as {role.value}); from the command line: "
               f"sybilgraph report operator {operator_id} --role {role.value}")
    try:
        case, html = await run_in_threadpool(build_case, read, operator_id, role.value, mask, files, command)
    except ReportError as e:
        raise NotFound(str(e)) from None
    # The audit record names whose data left: the operator and every member account.
    ctx.touched.operators.add(operator_id)
    ctx.touched.accounts.update(m.account_id for m in case.members)
    return html
