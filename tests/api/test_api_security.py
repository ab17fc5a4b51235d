"""Who may call, what each role sees, and what a request may cost: exact messages throughout."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from sybilgraph.api import create_app
from sybilgraph.settings.api import ApiSection
from sybilgraph.api.masking import Masker
from sybilgraph.db.session import Database
from sybilgraph.errors import ConfigError
from sybilgraph.settings import Settings
from tests.api.api_queries import ACCOUNT_FULL, LABEL_OPERATOR, OPERATOR_FULL
from tests.api.api_seed import CARD_TOKEN
from tests.api.api_support import ADMIN, ANALYST, KEYS, VIEWER, ApiServer
from tests.api.conftest import MASK_KEY, api_settings, app_settings

pytestmark = pytest.mark.integration

MASKER = Masker(MASK_KEY.encode())
RAW_VALUES = [CARD_TOKEN, "dev-aaa-0001", "203.0.113.7", "t13d1516h2_8daaf6152771", "9f86d081884c7d65", "example.org"]


def audit_records(home: Path) -> list[dict]:
    return [json.loads(line) for line in (home / "audit" / "audit.jsonl").read_text().splitlines()]


# -- authentication ---------------------------------------------------------------------------
def test_no_key_is_refused_with_401(server: ApiServer) -> None:
    with server.client(None) as c:
        r = c.post("{ me { user } }")
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == 'Bearer realm="sybilgraph"'
    assert r.json() == {"data": None, "errors": [{
        "message": "Authentication required: send an API key in 'X-API-Key' or 'Authorization: Bearer'.",
        "extensions": {"code": "UNAUTHENTICATED"},
    }]}


def test_wrong_key_is_refused_before_validation(server: ApiServer) -> None:
    # An unknown field would be a validation error; strangers must not learn even that.
    with server.client("not-a-key") as c:
        r = c.post("{ secretField }")
    assert r.status_code == 401
    assert r.json()["errors"] == [{"message": "Invalid API key.", "extensions": {"code": "UNAUTHENTICATED"}}]


def test_bearer_token_and_api_key_header(server: ApiServer) -> None:
    with server.client(ANALYST, bearer=True) as c:
        assert c.data("{ me { user role } }")["me"] == {"user": "alice", "role": "ANALYST"}
    with server.client(ADMIN) as c:
        assert c.data("{ me { user role } }")["me"] == {"user": "adam", "role": "ADMIN"}


def test_viewer_cannot_mutate(server: ApiServer, seeded: Database) -> None:
    with server.client(VIEWER) as c:
        body = c.gql(LABEL_OPERATOR, {"id": "op-heron", "label": "OP-HERON"})
    assert body == {"data": None, "errors": [{
        "message": "Forbidden: 'labelOperator' requires the analyst role (you have viewer).",
        "locations": [{"line": 3, "column": 3}], "path": ["labelOperator"], "extensions": {"code": "FORBIDDEN"},
    }]}
    label = seeded.driver.execute_query("MATCH (o:Operator {operator_id: 'op-heron'}) RETURN o.label AS l").records[0]["l"]
    assert label is None


# -- masking ------------------------------------------------------------------------------------
def identifiers_of(server: ApiServer, key: str, account: str = "a1") -> dict[str, str]:
    with server.client(key) as c:
        a = c.data('query($id: ID!) { account(id: $id) { identifiers { kind value } } }', {"id": account})["account"]
    return {i["kind"]: i["value"] for i in a["identifiers"]}


def test_masks_per_role(server: ApiServer) -> None:
    card = f"BIN 411111 · last4 1234 · #{MASKER.ref('card', CARD_TOKEN)}"
    assert identifiers_of(server, VIEWER) == {
        "CARD": card,
        "IP": "203.0.113.0/24",
        "SUBNET": "203.0.113.0/24",
        "DEVICE": f"device#{MASKER.ref('device', 'dev-aaa-0001')}",
        "TLS": f"tls#{MASKER.ref('tls', 't13d1516h2_8daaf6152771')}",
        "TEMPLATE": f"template#{MASKER.ref('template', '9f86d081884c7d65')}",
        "EMAIL_DOMAIN": f"email_domain#{MASKER.ref('email_domain', 'example.org')}",
    }
    assert identifiers_of(server, ANALYST) == {
        "CARD": card,
        "IP": "203.0.113.7",
        "SUBNET": "203.0.113.0/24",
        "DEVICE": "dev-aaa-0001",
        "TLS": "t13d1516h2_8daaf6152771",
        "TEMPLATE": "9f86d081884c7d65",
        "EMAIL_DOMAIN": "example.org",
    }
    assert identifiers_of(server, ADMIN) == {
        "CARD": CARD_TOKEN,
        "IP": "203.0.113.7",
        "SUBNET": "203.0.113.0/24",
        "DEVICE": "dev-aaa-0001",
        "TLS": "t13d1516h2_8daaf6152771",
        "TEMPLATE": "9f86d081884c7d65",
        "EMAIL_DOMAIN": "example.org",
    }
    # IPv6 addresses show their /48 to viewers.
    assert identifiers_of(server, VIEWER, "a8")["IP"] == "2001:db8:1::/48"


def test_viewer_never_receives_a_raw_identifier(server: ApiServer) -> None:
    with server.client(VIEWER) as c:
        account = c.post(ACCOUNT_FULL, {"id": "a1"}).text
        operator = c.post(OPERATOR_FULL, {"id": "op-kestrel"}).text
    for raw in RAW_VALUES:
        assert raw not in account, raw
        assert raw not in operator, raw
    # The same card is the same mask wherever it appears: evidence, identifiers, top identifiers.
    ref = MASKER.ref("card", CARD_TOKEN)
    assert account.count(ref) >= 2 and ref in operator


def test_masks_are_stable_across_accounts(server: ApiServer) -> None:
    assert identifiers_of(server, VIEWER, "a1")["DEVICE"] == identifiers_of(server, VIEWER, "a2")["DEVICE"]
    assert identifiers_of(server, VIEWER, "a5")["DEVICE"] != identifiers_of(server, VIEWER, "a1")["DEVICE"]


# -- limits -------------------------------------------------------------------------------------
DEEP = ('query Deep { account(id: "a1") { attribution { operator { members { edges { node { attribution { operator { members '
        '{ edges { node { attribution { operator { id } } } } } } } } } } } } } }')


@pytest.mark.parametrize(
    ("query", "message", "code"),
    [
        (DEEP, "'Deep' exceeds maximum operation depth of 12", "GRAPHQL_VALIDATION_FAILED"),
        ("{" + " ".join(f"a{i}: me {{ user }}" for i in range(21)) + "}", "21 aliases found. Allowed: 20", "GRAPHQL_VALIDATION_FAILED"),
        ("{ me { " + "user " * 2100 + "} }", "Syntax Error: Document contains more than 2000 tokens. Parsing aborted.", "GRAPHQL_PARSE_FAILED"),
        ("{ operators(first: 101) { totalCount } }", "Argument 'first' must be between 0 and 100 (got 101).", "BAD_USER_INPUT"),
        ("{ runs(first: -1) { totalCount } }", "Argument 'first' must be between 0 and 100 (got -1).", "BAD_USER_INPUT"),
        ('{ operator(id: "op-kestrel") { members(first: 500) { totalCount } } }', "Argument 'first' must be between 0 and 100 (got 500).", "BAD_USER_INPUT"),
        ('{ operator(id: "op-kestrel") { topIdentifiers(first: 101) { value } } }', "Argument 'first' must be between 0 and 100 (got 101).", "BAD_USER_INPUT"),
        ('{ accounts(identifier: {kind: IP, value: "203.0.113.7"}, first: 1000) { totalCount } }', "Argument 'first' must be between 0 and 100 (got 1000).", "BAD_USER_INPUT"),
        ('{ account(id: "a1") { identifiers { accounts(first: 101) { totalCount } } } }', "Argument 'first' must be between 0 and 100 (got 101).", "BAD_USER_INPUT"),
        ('{ accounts(identifier: {kind: IP, value: ""}) { totalCount } }', "Identifier value must be 1 to 256 characters.", "BAD_USER_INPUT"),
        ("{ account(id: \"" + "x" * 129 + "\") { id } }", "Argument 'id' must be 1 to 128 printable characters.", "BAD_USER_INPUT"),
        ('{ operators(filter: {minSize: -1}) { totalCount } }', "Filter 'minSize' must not be negative.", "BAD_USER_INPUT"),
    ],
)
def test_limits(server: ApiServer, query: str, message: str, code: str) -> None:
    with server.client(VIEWER) as c:
        body = c.gql(query)
    assert body["errors"][0]["message"] == message
    assert body["errors"][0]["extensions"]["code"] == code


def test_body_size_limit(server: ApiServer) -> None:
    with server.client(VIEWER) as c:
        r = c.http.post("/graphql", content=b" " * 300_000, headers={"Content-Type": "application/json"})
    assert r.status_code == 413
    assert r.json() == {"detail": "Request body larger than 262144 bytes."}


def test_queries_over_get_are_refused(server: ApiServer) -> None:
    with server.client(VIEWER) as c:
        r = c.http.get("/graphql", params={"query": "{ me { user } }"})
    assert (r.status_code, r.text) == (400, "queries are not allowed when using GET")


def test_development_mode_has_graphiql_introspection_and_suggestions(server: ApiServer) -> None:
    with server.client(VIEWER) as c:
        assert c.http.get("/graphql", headers={"Accept": "text/html"}).status_code == 200
        assert c.data("{ __schema { queryType { name } } }") == {"__schema": {"queryType": {"name": "Query"}}}
        body = c.gql('{ acount(id: "a1") { id } }')
    assert body["errors"][0]["message"] == "Cannot query field 'acount' on type 'Query'. Did you mean 'account' or 'accounts'?"


# -- errors ------------------------------------------------------------------------------------
def test_unexpected_errors_are_masked_and_audited(server: ApiServer, seeded: Database, api_home: Path) -> None:
    seeded.driver.execute_query("CREATE (:Account {account_id: 'broken-1', hour_hist: ['not a number']})")
    try:
        with server.client(VIEWER) as c:
            body = c.gql('{ account(id: "broken-1") { id activity { hourOfWeek } } }')
    finally:
        seeded.driver.execute_query("MATCH (a:Account {account_id: 'broken-1'}) DELETE a")
    assert body["data"] == {"account": None}
    assert body["errors"] == [{"message": "Internal server error.", "locations": [{"line": 1, "column": 3}],
                               "path": ["account"], "extensions": {"code": "INTERNAL"}}]
    record = audit_records(api_home)[-1]
    assert record["outcome"] == "failed" and record["errors"] == [{"code": "INTERNAL"}]


# -- production mode ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def production_server(neo4j_settings: Settings, tmp_path_factory: pytest.TempPathFactory, seeded: Database) -> Iterator[ApiServer]:
    home = tmp_path_factory.mktemp("prod-home")
    app = create_app(app_settings(neo4j_settings, home), production=True)
    with ApiServer(app) as srv:
        yield srv


def test_production_turns_off_introspection_graphiql_and_suggestions(production_server: ApiServer) -> None:
    with production_server.client(VIEWER) as c:
        body = c.gql("{ __schema { queryType { name } } }")
        assert body["errors"][0]["message"] == (
            "GraphQL introspection has been disabled, but the requested query contained the field '__schema'."
        )
        body = c.gql('{ acount(id: "a1") { id } }')
        assert body["errors"][0]["message"] == "Cannot query field 'acount' on type 'Query'."
        assert c.http.get("/graphql", headers={"Accept": "text/html"}).status_code == 404
        assert c.http.get("/openapi.json").status_code == 404
        assert c.data('{ account(id: "a1") { id } }') == {"account": {"id": "a1"}}


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"keys": {}}, ("refusing to start in production: no API keys configured "
                       "(set SYBILGRAPH_API_KEYS or SYBILGRAPH_API_KEYS_FILE)")),
        ({"keys": {**KEYS, "demo-admin-key": {"user": "x", "role": "admin"}}},
         ("refusing to start in production: a default, demo or weak API key is configured "
         "(keys need at least 24 random characters)")),
        ({"keys": {"short-key-1": {"user": "x", "role": "viewer"}}},
         ("refusing to start in production: a default, demo or weak API key is configured "
         "(keys need at least 24 random characters)")),
        ({"mask_key": None}, ("refusing to start in production: SYBILGRAPH_API_MASK_KEY must be set "
                             "to at least 16 random characters")),
    ],
)
def test_production_refuses_insecure_configuration(tmp_path: Path, overrides: dict, message: str) -> None:
    with pytest.raises(ConfigError) as e:
        create_app(Settings(home=tmp_path, api=api_settings(**overrides)), production=True)
    assert str(e.value) == message


def test_keys_from_environment_and_hashed_keys_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from sybilgraph.settings.api import hash_key, load_key_table

    monkeypatch.setenv("SYBILGRAPH_API_KEYS", json.dumps({VIEWER: {"user": "vera", "role": "viewer"}}))
    keys_file = tmp_path / "keys.json"
    keys_file.write_text(json.dumps({"sha256:" + hash_key(ADMIN): {"user": "adam", "role": "admin"}}))
    monkeypatch.setenv("SYBILGRAPH_API_KEYS_FILE", str(keys_file))
    table = load_key_table(Settings(home=tmp_path).api, production=True)
    assert {(s.user, s.role.value) for s in table.values()} == {("vera", "viewer"), ("adam", "admin")}
    assert hash_key(ADMIN) in table


def test_development_without_keys_uses_the_demo_keys(tmp_path: Path) -> None:
    from sybilgraph.settings.api import DEMO_KEYS, hash_key, load_key_table

    table = load_key_table(ApiSection(keys={}), production=False)
    assert set(table) == {hash_key(k) for k in DEMO_KEYS}


def test_concurrent_callers_keep_their_own_identity(server: ApiServer) -> None:
    """Per-request state (principal, 401 status, loaders) never leaks between concurrent requests."""
    from concurrent.futures import ThreadPoolExecutor

    keys = [VIEWER, None, ADMIN, "wrong", ANALYST] * 8

    def call(key: str | None) -> tuple[int, object]:
        with server.client(key) as c:
            r = c.post("{ me { user } }")
            return r.status_code, (r.json().get("data") or {}).get("me")

    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(call, keys))
    expected = {VIEWER: (200, {"user": "vera"}), ADMIN: (200, {"user": "adam"}), ANALYST: (200, {"user": "alice"}),
                None: (401, None), "wrong": (401, None)}
    assert results == [expected[k] for k in keys]
