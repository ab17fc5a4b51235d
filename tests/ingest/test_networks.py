"""Longest-prefix match of IPs against nested ranges, checked against a brute-force search."""

from __future__ import annotations

import ipaddress

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from sybilgraph.ingest.networks import IP_NETWORK_SCHEMA, match_networks

# A small address space (10.0.0.0/16 and 2001:db8::/112) so random ranges nest and IPs hit them.
V4_BASE = int(ipaddress.IPv4Address("10.0.0.0"))
V6_BASE = int(ipaddress.IPv6Address("2001:db8::"))

v4_networks = st.builds(
    lambda offset, prefix: ipaddress.IPv4Network((V4_BASE + offset, prefix), strict=False),
    st.integers(0, 2**16 - 1), st.integers(16, 32),
)
v6_networks = st.builds(
    lambda offset, prefix: ipaddress.IPv6Network((V6_BASE + offset, prefix), strict=False),
    st.integers(0, 2**16 - 1), st.integers(112, 128),
)
v4_ips = st.builds(lambda o: str(ipaddress.IPv4Address(V4_BASE + o)), st.integers(0, 2**16 - 1))
v6_ips = st.builds(lambda o: str(ipaddress.IPv6Address(V6_BASE + o)), st.integers(0, 2**16 - 1))


def _brute_force(ip: str, networks: list) -> int | None:
    addr = ipaddress.ip_address(ip)
    holding = [(n.prefixlen, i) for i, n in enumerate(networks) if addr.version == n.version and addr in n]
    return max(holding)[1] if holding else None


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(v4_networks, v6_networks), unique=True, max_size=25),
       st.lists(st.one_of(v4_ips, v6_ips), unique=True, max_size=60))
def test_property_most_specific_range_owns_each_ip(networks: list, ips: list[str]) -> None:
    owners = pa.table({
        "cidr": [n.with_prefixlen for n in networks],
        "owner": [f"owner-{i}" for i in range(len(networks))],
        "asn": pa.array(list(range(len(networks))), pa.int64()),
        "kind": ["vpn"] * len(networks),
    })
    got = {r["ip"]: r["owner"] for r in match_networks(pa.array(ips, pa.string()), owners).to_pylist()}
    want = {ip: f"owner-{i}" for ip in ips if (i := _brute_force(ip, networks)) is not None}
    assert got == want


def test_no_ranges_or_no_ips() -> None:
    empty_owners = pa.table({"cidr": pa.array([], pa.string()), "owner": pa.array([], pa.string()),
                             "asn": pa.array([], pa.int64()), "kind": pa.array([], pa.string())})
    assert match_networks(pa.array(["10.0.0.1"]), empty_owners).schema.equals(IP_NETWORK_SCHEMA)
    owners = pa.table({"cidr": ["0.0.0.0/0"], "owner": ["all"], "asn": [1], "kind": ["residential"]})
    assert match_networks(pa.array([], pa.string()), owners).num_rows == 0
    edge = match_networks(pa.array(["0.0.0.0", "255.255.255.255", "::1"]), owners)
    assert edge["ip"].to_pylist() == ["0.0.0.0", "255.255.255.255"]
