"""Pure logic of the request pipeline, without a database: cost, buckets, proxies, handles, cache."""

from __future__ import annotations

import asyncio

import pytest
from graphql import parse
from hypothesis import given
from hypothesis import strategies as st

from sybilgraph.api.cache import CacheEntry, DataVersion, ResponseCache, cache_key
from sybilgraph.api.cost import estimate_cost
from sybilgraph.api.documents import DocumentStore, OperationInfo, load_trusted_documents, redact_variables
from sybilgraph.api.handles import HandleCodec
from sybilgraph.api.masking import looks_masked
from sybilgraph.api.origin import TrustedProxies
from sybilgraph.api.ratelimit import RateLimiter, retry_after_header
from sybilgraph.api.schema import build_schema
from sybilgraph.errors import ConfigError

GQL = build_schema()._schema


def cost(query: str, variables: dict | None = None) -> int:
    doc = parse(query)
    op = doc.definitions[0]
    return estimate_cost(GQL, doc, op, variables, 100)  # type: ignore[arg-type]


# -- cost ----------------------------------------------------------------------------------------
def test_cost_multiplies_page_sizes_down_the_query() -> None:
    # The example: operators(first:100) -> members(first:100) -> identifiers -> accounts(first:100).
    huge = """{ operators(first: 100) { edges { node { members(first: 100) { edges { node {
        identifiers { accounts(first: 100) { edges { node { id } } } } } } } } } } }"""
    assert cost(huge) > 10_000_000
    assert cost('{ account(id: "a") { id status } }') == 3
    # A connection's page size applies to its edges; totalCount counts once.
    assert cost("{ operators(first: 10) { totalCount edges { node { id } } } }") == 1 + 1 + 1 + 10 * 2
    # Variables and defaults are read like literals; sizes beyond the page limit count as the limit.
    q = "query($n: Int!) { operators(first: $n) { edges { node { id } } } }"
    assert cost(q, {"n": 50}) == cost("{ operators(first: 50) { edges { node { id } } } }")
    assert cost(q, {"n": 10_000}) == cost("{ operators(first: 100) { edges { node { id } } } }")
    assert cost("{ operators { edges { node { id } } } }") == cost("{ operators(first: 20) { edges { node { id } } } }")
    # Aliases repeat the work, fragments count where they are spread.
    one = '{ account(id: "a") { identifiers { value } } }'
    twice = '{ x: account(id: "a") { identifiers { value } } y: account(id: "b") { identifiers { value } } }'
    assert cost(twice) == 2 * cost(one)
    frag = 'query { account(id: "a") { ...F } } fragment F on Account { identifiers { value } }'
    assert cost(frag) == cost(one)
    # Introspection is bounded by the schema itself and touches no data: one, whatever its shape.
    assert cost("{ __schema { types { fields { name args { name } } } } }") == 1


@given(st.integers(min_value=0, max_value=100), st.integers(min_value=0, max_value=100))
def test_cost_grows_with_every_page_size(a: int, b: int) -> None:
    q = "query($a: Int!, $b: Int!) { operators(first: $a) { edges { node { members(first: $b) { edges { node { id } } } } } } }"
    assert cost(q, {"a": a, "b": b}) <= cost(q, {"a": min(100, a + 1), "b": b})
    assert cost(q, {"a": a, "b": b}) <= cost(q, {"a": a, "b": min(100, b + 1)})


# -- rate limits ---------------------------------------------------------------------------------
def test_token_bucket() -> None:
    now = [0.0]
    limiter = RateLimiter(clock=lambda: now[0])
    assert [limiter.take("k", 2, 3) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.take("k", 2, 3) == pytest.approx(0.5)  # empty: one token comes in 1/2 s
    now[0] = 0.5
    assert limiter.take("k", 2, 3) == 0.0
    assert limiter.take("other", 2, 3) == 0.0  # buckets are per name
    assert limiter.take("k", 2, 3, n=10) > 0  # more than the burst: never all at once
    assert retry_after_header(0.01) == "1" and retry_after_header(2.2) == "3"


def test_bucket_count_is_bounded() -> None:
    limiter = RateLimiter(max_buckets=3)
    for i in range(10):
        limiter.take(f"k{i}", 1, 1)
    assert len(limiter._buckets) == 3


# -- proxies -------------------------------------------------------------------------------------
def test_the_client_is_read_from_the_right_of_x_forwarded_for() -> None:
    direct = TrustedProxies()
    assert direct.client("198.51.100.9", "6.6.6.6") == "198.51.100.9"  # no proxy: the header is ignored
    cidr = TrustedProxies(["10.0.0.0/8", "127.0.0.1"])
    # The client wrote "6.6.6.6"; our proxy (10.0.0.2) appended the address it saw.
    assert cidr.client("10.0.0.2", "6.6.6.6, 203.0.113.5") == "203.0.113.5"
    assert cidr.client("10.0.0.2", "6.6.6.6, 203.0.113.5, 10.0.0.7") == "203.0.113.5"  # two of our proxies
    assert cidr.client("198.51.100.9", "203.0.113.5") == "198.51.100.9"  # not from our proxy
    assert cidr.client("10.0.0.2", "garbage") == "10.0.0.2"
    assert cidr.client("10.0.0.2", "10.0.0.3") == "10.0.0.3"  # every hop ours: the leftmost
    counted = TrustedProxies(count=2)
    assert counted.client("10.0.0.2", "6.6.6.6, 203.0.113.5, 10.0.0.7") == "203.0.113.5"
    assert counted.client("10.0.0.2", "203.0.113.5") == "10.0.0.2"  # fewer hops than proxies
    v6 = TrustedProxies(["::1"])
    assert v6.client("::1", "2001:db8::5") == "2001:db8::5"


# -- handles and masks ---------------------------------------------------------------------------
@given(st.sampled_from(["ip", "device", "card", "email_domain"]), st.text(min_size=1, max_size=80))
def test_handles_round_trip_and_resist_forgery(kind: str, value: str) -> None:
    codec = HandleCodec(b"mask-key-for-the-handle-tests")
    handle = codec.encode(kind, value)
    assert codec.decode(handle) == (kind, value)
    assert codec.encode(kind, value) == handle  # deterministic: the same identifier, the same handle
    assert HandleCodec(b"another-servers-mask-key").decode(handle) is None
    assert codec.decode(handle[:-2] + ("AA" if not handle.endswith("AA") else "BB")) is None


def test_masked_values_are_recognised() -> None:
    assert looks_masked("ip", "203.0.113.0/24") and looks_masked("ip", "2001:db8:1::/48")
    assert looks_masked("device", "device#1a2b3c4d5e6f") and looks_masked("card", "BIN 411111 · last4 1234 · #3f9a1c2b4d5e")
    assert not looks_masked("ip", "203.0.113.7") and not looks_masked("device", "dev-aaa-0001")


# -- documents -----------------------------------------------------------------------------------
def test_trusted_documents_manifest(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from sybilgraph.api.documents import document_sha256

    doc = "query Me { me { user } }"
    good = tmp_path / "docs.json"
    good.write_text(f'{{"sha256:{document_sha256(doc)}": "{doc}"}}')
    assert load_trusted_documents(good) == {document_sha256(doc): doc}
    bad = tmp_path / "bad.json"
    bad.write_text(f'{{"sha256:{"0" * 64}": "{doc}"}}')
    with pytest.raises(ConfigError, match="is not the SHA-256 of its document"):
        load_trusted_documents(bad)
    with pytest.raises(ConfigError, match="is not valid"):
        DocumentStore(GQL, [], 2000, {document_sha256("{ nope }"): "{ nope }"})


def test_documents_are_analysed_once() -> None:
    store = DocumentStore(GQL, [], 2000)
    a = store.by_text('query A($v: String!) { accounts(identifier: {kind: IP, value: $v}) { totalCount } }')
    assert store.by_text(a.text) is a
    info = a.operation(GQL, None)
    assert isinstance(info, OperationInfo)
    assert (info.type, info.root_fields, info.cacheable, info.lookups) == ("query", ("accounts",), True, 1)
    assert redact_variables(info, {"v": "203.0.113.7"}) == {"v": "[redacted]"}
    me = store.by_text("{ me { user } }").operation(GQL, None)
    assert me is not None and not me.cacheable  # per user, never cached
    h = store.by_text("query($h: String) { accounts(handle: $h) { totalCount } }").operation(GQL, None)
    assert h is not None and redact_variables(h, {"h": "idh1_x"}) == {"h": "[redacted]"}


# -- cache ---------------------------------------------------------------------------------------
def _entry(body: bytes, t: float = 0.0) -> CacheEntry:
    return CacheEntry(body, ("a1",), (), (), t)


def test_cache_is_bounded_and_expires() -> None:
    now = [0.0]
    cache = ResponseCache(max_bytes=8 * 1000, max_age_s=10, clock=lambda: now[0])
    for i in range(40):
        cache.put(str(i), _entry(b"x" * 400))
    assert cache._bytes <= 8 * 1000 and cache.get("0") is None and cache.get("39") is not None
    now[0] = 11
    assert cache.get("39") is None
    assert cache_key("v1", "viewer", "d", None, {"a": 1, "b": 2}) == cache_key("v1", "viewer", "d", None, {"b": 2, "a": 1})
    assert cache_key("v1", "viewer", "d", None, {}) != cache_key("v2", "viewer", "d", None, {})
    assert cache_key("v1", "viewer", "d", None, {}) != cache_key("v1", "analyst", "d", None, {})


def test_identical_misses_are_computed_once() -> None:
    async def scenario() -> tuple[list[str], int]:
        cache = ResponseCache(max_bytes=10**6, max_age_s=60)
        calls = 0

        async def compute():  # type: ignore[no-untyped-def]
            nonlocal calls
            calls += 1
            await asyncio.sleep(0.05)
            return b"body", _entry(b"body")

        outcomes = await asyncio.gather(*(cache.get_or_compute("k", compute) for _ in range(5)))
        return [o[0] for o in outcomes], calls

    outcomes, calls = asyncio.run(scenario())
    assert calls == 1 and sorted(outcomes) == ["coalesced"] * 4 + ["miss"]


def test_data_version_is_read_at_most_once_per_interval() -> None:
    async def scenario() -> list[str | None]:
        now = [0.0]
        reads = []

        async def read() -> str:
            reads.append(now[0])
            return f"v{len(reads)}"

        version = DataVersion(read, check_interval_s=1.0, clock=lambda: now[0])
        seen = [await version.current(), await version.current()]
        now[0] = 1.5
        seen.append(await version.current())
        version.invalidate()  # this process wrote: read again at once
        seen.append(await version.current())
        return seen + [str(len(reads))]

    assert asyncio.run(scenario()) == ["v1", "v1", "v2", "v3", "3"]
