# The sybilgraph image: the GraphQL API (the default command) and the scheduler; Neo4j + GDS run
# in their own container (docker-compose.yml). Production mode by default: the API refuses to
# start without SYBILGRAPH_API_KEYS (or _KEYS_FILE), SYBILGRAPH_API_MASK_KEY and
# SYBILGRAPH_API_AUDIT_KEY, and never serves demo keys, GraphiQL or introspection unless
# `serve --dev` is asked for explicitly.
FROM python:3.11-slim

WORKDIR /src
# Pinned dependencies (constraints.txt) in their own layer; then the package, non-editable:
# its Cypher statements are package data, so nothing below depends on this directory.
COPY constraints.txt pyproject.toml setup.py README.md LICENSE ./
COPY src ./src
COPY cypher ./cypher
COPY launcher ./launcher
RUN pip install --no-cache-dir -c constraints.txt . \
    && rm -rf /src

# The state (audit log, columnar store, inbox, reports) lives in /data, a volume owned by the
# unprivileged user: a named volume mounted there starts as a copy of this directory, ownership
# included, so the audit log and the inbox can be created.
RUN groupadd --system --gid 10001 sybilgraph \
    && useradd --system --uid 10001 --gid 10001 --home-dir /data --no-create-home --shell /usr/sbin/nologin sybilgraph \
    && mkdir -p /data \
    && chown 10001:10001 /data \
    && chmod 0750 /data
ENV SYBILGRAPH_HOME=/data \
    PYTHONUNBUFFERED=1
VOLUME ["/data"]
WORKDIR /data
USER 10001:10001
EXPOSE 8000
CMD ["sybilgraph", "serve", "--host", "0.0.0.0", "--port", "8000", "--production"]
