"""GraphiQL served from files shipped in the package: it works on a network that reaches nothing.

Strawberry's GraphiQL page loads React and GraphiQL from a CDN, which a locked-down
investigation network cannot reach. This page loads them from ``static/graphiql/`` instead:
GraphiQL 3.8.3, React and ReactDOM 18.2.0, vendored from npm with their licences by
``scripts/vendor_graphiql.py`` (pinned versions and integrity hashes in ``manifest.json``) and
stored gzip-compressed. The headers editor opens with ``{"X-API-Key": ""}`` ready to fill in;
headers are not persisted in the browser (an API key does not belong in local storage); until a
key is entered, the page answers locally with how to enter one instead of sending requests the
API would refuse.
"""

from __future__ import annotations

import gzip
import json
from functools import lru_cache
from html import escape
from importlib import resources
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

__all__ = ["graphiql_page", "graphiql_static_router", "vendored_files"]

STATIC = "static/graphiql"
_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8", ".txt": "text/plain; charset=utf-8"}

_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>sybilgraph · GraphiQL</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="{base}graphiql.min.css">
<style>body {{ margin: 0; }} #graphiql {{ height: 100vh; }}</style>
</head>
<body>
<div id="graphiql">Loading GraphiQL…</div>
<script src="{base}react.production.min.js"></script>
<script src="{base}react-dom.production.min.js"></script>
<script src="{base}graphiql.min.js"></script>
<script>
(function () {{
  var endpoint = {endpoint};
  var http = GraphiQL.createFetcher({{ url: endpoint }});
  function hasKey(headers) {{
    return Object.keys(headers || {{}}).some(function (name) {{
      return /^(x-api-key|authorization)$/i.test(name) && String(headers[name]).trim() !== "" &&
             !/^bearer\\s*$/i.test(String(headers[name]).trim());
    }});
  }}
  function fetcher(params, options) {{
    if (!hasKey(options && options.headers)) {{
      return Promise.resolve({{ errors: [{{ message:
        "Enter your API key in the Headers tab below, as {{\\"X-API-Key\\": \\"<your key>\\"}}, " +
        "then re-fetch the schema (the circular arrows on the left) or run the query." }}] }});
    }}
    return http(params, options);
  }}
  ReactDOM.createRoot(document.getElementById("graphiql")).render(React.createElement(GraphiQL, {{
    fetcher: fetcher,
    defaultHeaders: {headers},
    defaultQuery: {query},
    defaultEditorToolsVisibility: "headers",
    isHeadersEditorEnabled: true,
    shouldPersistHeaders: false
  }}));
}})();
</script>
</body>
</html>
"""

DEFAULT_HEADERS = '{\n  "X-API-Key": ""\n}'
DEFAULT_QUERY = """# sybilgraph's GraphQL API: docs/api.md
# Put your API key in the Headers tab below, then run (Ctrl-Enter).
{
  me { user role }
}
"""


@lru_cache(maxsize=1)
def vendored_files() -> dict[str, dict[str, Any]]:
    """Served name -> its manifest entry (package, sha256, bytes)."""
    manifest = resources.files("sybilgraph.api").joinpath(STATIC, "manifest.json").read_text(encoding="utf-8")
    return dict(json.loads(manifest)["files"])


@lru_cache(maxsize=16)
def _stored(name: str) -> bytes:
    folder = resources.files("sybilgraph.api").joinpath(STATIC)
    if name.endswith(".txt"):
        return folder.joinpath(name).read_bytes()
    return folder.joinpath(f"{name}.gz").read_bytes()


def graphiql_page(request: Request) -> HTMLResponse:
    endpoint = request.url.path.rstrip("/") or "/graphql"
    page = _PAGE.format(
        base=escape(f"{endpoint}/static/"), endpoint=json.dumps(endpoint), headers=json.dumps(DEFAULT_HEADERS),
        query=json.dumps(DEFAULT_QUERY),
    )
    return HTMLResponse(page)


def graphiql_static_router(prefix: str = "/graphql") -> APIRouter:
    router = APIRouter()

    @router.get(prefix + "/static/{name}", include_in_schema=False)
    async def graphiql_static(name: str, request: Request) -> Response:
        if name not in vendored_files():
            return Response(status_code=404)
        body = _stored(name)
        headers = {"Cache-Control": "public, max-age=604800", "Vary": "Accept-Encoding"}
        media = _TYPES.get(name[name.rfind("."):], "application/octet-stream")
        if name.endswith(".txt"):
            return Response(body, media_type=media, headers=headers)
        if "gzip" in request.headers.get("accept-encoding", ""):
            return Response(body, media_type=media, headers={**headers, "Content-Encoding": "gzip"})
        return Response(gzip.decompress(body), media_type=media, headers=headers)

    return router
