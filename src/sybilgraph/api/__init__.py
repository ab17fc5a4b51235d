"""The GraphQL API (``sybilgraph serve``): who is behind a swarm of accounts, for investigators.

FastAPI + Strawberry at ``/graphql`` over the async Neo4j driver, with DataLoaders so that no
resolver queries per row; API-key roles with identifier masking; a hash-chained audit record
for every operation; cost limits and a query deadline. See docs/api.md.
"""

from typing import TYPE_CHECKING, Any

__all__ = ["create_app"]

if TYPE_CHECKING:
    from sybilgraph.api.app import create_app


def __getattr__(name: str) -> Any:
    # The app (FastAPI, Strawberry) loads only when asked for: the command line uses the masking and
    # the audit log without paying for a web server's imports.
    if name == "create_app":
        from sybilgraph.api.app import create_app

        return create_app
    raise AttributeError(name)
