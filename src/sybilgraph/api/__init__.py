"""The GraphQL API (``sybilgraph serve``): who is behind a swarm of accounts, for investigators.

FastAPI + Strawberry at ``/graphql`` over the async Neo4j driver, with DataLoaders so that no
resolver queries per row; API-key roles with identifier masking; a hash-chained audit record
for every operation; cost limits and a query deadline. See docs/api.md.
"""

from sybilgraph.api.app import create_app

__all__ = ["create_app"]
