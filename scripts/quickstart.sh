#!/usr/bin/env bash
# The quick start: from a fresh clone to a served, attributed graph.
#   install -> start the local Neo4j + GDS -> ingest seeds/bundle -> attribute -> serve GraphQL
# Idempotent: a second run reuses the install, the running database and the ingested bundle.
set -euo pipefail
cd "$(dirname "$0")/.."
export SYBILGRAPH_HOME=${SYBILGRAPH_HOME:-$PWD/var}
PORT=${SYBILGRAPH_API_PORT:-8000}
SG=.venv/bin/sybilgraph

echo "==> [1/5] installing (virtualenv, Python dependencies, Neo4j + GDS launcher)"
bash scripts/install.sh

echo "==> [2/5] starting the local Neo4j 5.26 + GDS 2.13 (data in $SYBILGRAPH_HOME/neo4j)"
if [ -z "${NEO4J_URI:-}" ]; then $SG db start; fi
$SG db status

echo "==> [3/5] ingesting seeds/bundle (validated, quarantined, idempotent)"
set +e; $SG ingest seeds/bundle; code=$?; set -e
if [ "$code" -ne 0 ] && [ "$code" -ne 3 ]; then echo "ingest failed (exit $code)"; exit "$code"; fi

echo "==> [4/5] attributing accounts to operators (GDS Leiden) and scoring campaigns"
$SG attribute

# An admin key, a masking key and an audit key for this machine only, kept under the home
# (mode 600): the API runs in production mode, which refuses default or missing keys.
secret_file() {
  if [ ! -s "$1" ]; then
    (umask 077 && .venv/bin/python -c "import secrets; print(secrets.token_hex(24))" > "$1")
  fi
  cat "$1"
}
KEY=$(secret_file "$SYBILGRAPH_HOME/quickstart-api-key")
export SYBILGRAPH_API_KEYS="{\"$KEY\": {\"user\": \"quickstart\", \"role\": \"admin\"}}"
SYBILGRAPH_API_MASK_KEY=$(secret_file "$SYBILGRAPH_HOME/quickstart-api-mask-key")
SYBILGRAPH_API_AUDIT_KEY=$(secret_file "$SYBILGRAPH_HOME/quickstart-api-audit-key")
export SYBILGRAPH_API_MASK_KEY SYBILGRAPH_API_AUDIT_KEY

$SG export --out "$SYBILGRAPH_HOME/export.csv" >/dev/null
ID=$(.venv/bin/python -c "import csv,sys; rows=[r for r in csv.DictReader(open(sys.argv[1])) if r['flagged']=='true']; print(rows[0]['account_id'] if rows else '')" "$SYBILGRAPH_HOME/export.csv")

cat <<EXAMPLES

==> [5/5] serving GraphQL on http://127.0.0.1:$PORT/graphql  (Ctrl-C to stop)

Flagged operators, largest first:
  curl -s http://127.0.0.1:$PORT/graphql -H 'content-type: application/json' -H 'X-API-Key: $KEY' \\
    -d '{"query":"{ operators(filter: {flagged: true}, orderBy: {field: SIZE, direction: DESC}, first: 5) { totalCount edges { node { id label size campaignScore flagged } } } }"}'

One flagged account, its operator and the evidence that ties it:
  curl -s http://127.0.0.1:$PORT/graphql -H 'content-type: application/json' -H 'X-API-Key: $KEY' \\
    -d '{"query":"query(\$id: ID!) { account(id: \$id) { id status attribution { confidence operator { id label campaignScore flagged } evidence { kind value membersSharing weight } } } }","variables":{"id":"$ID"}}'

EXAMPLES
exec $SG serve --host 127.0.0.1 --port "$PORT"
