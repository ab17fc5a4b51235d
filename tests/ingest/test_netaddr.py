from __future__ import annotations

import ipaddress

import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sybilgraph.ingest.netaddr import canonical_ip, normalize_ip_array, parse_cidr, parse_ip, subnet_of


@pytest.mark.parametrize(
    ("text", "canonical", "subnet"),
    [
        ("10.1.2.3", "10.1.2.3", "10.1.2.0/24"),
        ("255.255.255.255", "255.255.255.255", "255.255.255.0/24"),
        ("0.0.0.0", "0.0.0.0", "0.0.0.0/24"),
        (" 192.0.2.44 ", "192.0.2.44", "192.0.2.0/24"),
        ("2001:db8:1::", "2001:db8:1::", "2001:db8:1::/48"),
        ("2001:db8:1:2::5", "2001:db8:1:2::5", "2001:db8:1::/48"),
        ("2001:0DB8:0001:0002:0000:0000:0000:0005", "2001:db8:1:2::5", "2001:db8:1::/48"),
        ("2001:db8::1", "2001:db8::1", "2001:db8::/48"),
        ("::1", "::1", "::/48"),
        ("::", "::", "::/48"),
        ("1:0:2:3:4:5:6:7", "1:0:2:3:4:5:6:7", "1:0:2::/48"),
        ("1:0:0:2:0:0:0:3", "1:0:0:2::3", "1::/48"),
        ("0:0:5:0:0:0:0:0", "0:0:5::", "0:0:5::/48"),
        ("fe80::1%eth0", "fe80::1", "fe80::/48"),
        ("::ffff:198.51.100.9", "198.51.100.9", "198.51.100.0/24"),  # IPv4-mapped -> the IPv4 host
        ("::FFFF:c633:6409", "198.51.100.9", "198.51.100.0/24"),
        ("::1.2.3.4", "::102:304", "::/48"),  # IPv4-compatible (deprecated) stays IPv6
    ],
)
def test_canonical_and_subnet(text: str, canonical: str, subnet: str) -> None:
    assert parse_ip(text) == (canonical, subnet)
    assert canonical_ip(text) == canonical
    assert subnet_of(text) == subnet


@pytest.mark.parametrize(
    "text",
    ["", "1.2.3", "1.2.3.4.5", "256.1.1.1", "01.2.3.4", "1.2.3.04", "1.2.3.-1", "abc", "1::2::3", "1:2:3:4:5:6:7:8:9",
     "12345::1", "::ffff:1.2.3.256", "1.2.3.4/24", "2001:db8::/48", "fe80::1%", "١.٢.٣.٤"],
)
def test_invalid_addresses(text: str) -> None:
    assert parse_ip(text) is None
    assert canonical_ip(text) is None
    assert subnet_of(text) is None


def test_normalize_ip_array_mixed() -> None:
    values = pa.array(["10.1.2.3", None, "2001:DB8:1:2::5", "nope", "::ffff:10.9.8.7", "300.1.1.1"])
    canonical, subnet, bad = normalize_ip_array(values)
    assert canonical.to_pylist() == ["10.1.2.3", None, "2001:db8:1:2::5", None, "10.9.8.7", None]
    assert subnet.to_pylist() == ["10.1.2.0/24", None, "2001:db8:1::/48", None, "10.9.8.0/24", None]
    assert bad.to_pylist() == [False, False, False, True, False, True]


def test_normalize_ip_array_ipv4_only_and_empty() -> None:
    canonical, subnet, bad = normalize_ip_array(pa.array(["1.2.3.4", None]))
    assert canonical.to_pylist() == ["1.2.3.4", None]
    assert subnet.to_pylist() == ["1.2.3.0/24", None]
    assert bad.to_pylist() == [False, False]
    assert [len(a) for a in normalize_ip_array(pa.array([], pa.string()))] == [0, 0, 0]


def _expected(text: str) -> tuple[str, str] | None:
    """The reference: ipaddress, IPv4-mapped addresses taken as their IPv4 host."""
    try:
        addr = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(addr, ipaddress.IPv6Address):
        if addr.ipv4_mapped is not None:
            addr = addr.ipv4_mapped
        else:
            plain = ipaddress.IPv6Address(int(addr))
            return plain.compressed, ipaddress.ip_network(f"{plain}/48", strict=False).compressed
    return addr.compressed, ipaddress.ip_network(f"{addr}/24", strict=False).compressed


def _texts_of_v6(value: int) -> list[str]:
    addr = ipaddress.IPv6Address(value)
    return [addr.compressed, addr.exploded, addr.exploded.upper(), addr.compressed.upper()]


@given(st.integers(0, 2**128 - 1))
def test_property_ipv6_matches_ipaddress(value: int) -> None:
    for text in _texts_of_v6(value):
        assert parse_ip(text) == _expected(text)


@given(
    st.lists(st.sampled_from([0, 0, 0, 1, 0xFFFF, 0xDB8, 0x2001, 0xABCD]), min_size=8, max_size=8).map(
        lambda hs: sum(h << (16 * (7 - i)) for i, h in enumerate(hs))
    )
)
def test_property_ipv6_zero_runs_match_ipaddress(value: int) -> None:
    # Many zero hextets: exercises the choice of the run that '::' replaces.
    for text in _texts_of_v6(value):
        assert parse_ip(text) == _expected(text)


@given(st.integers(0, 2**32 - 1))
def test_property_ipv4_matches_ipaddress(value: int) -> None:
    text = str(ipaddress.IPv4Address(value))
    assert parse_ip(text) == _expected(text)
    assert parse_ip(f"::ffff:{text}") == _expected(text)


@given(st.lists(st.text(alphabet="0123456789abcdefABCDEF:.%", max_size=24), max_size=40))
def test_property_junk_gets_the_ipaddress_verdict_scalar_and_vectorised(texts: list[str]) -> None:
    expected = [_expected(t) for t in texts]
    assert [parse_ip(t) for t in texts] == expected
    values = pa.array([t or None for t in texts], pa.string())
    canonical, subnet, bad = normalize_ip_array(values)
    exp_or_none = [e if t else None for t, e in zip(texts, expected, strict=True)]
    assert canonical.to_pylist() == [e and e[0] for e in exp_or_none]
    assert subnet.to_pylist() == [e and e[1] for e in exp_or_none]
    assert bad.to_pylist() == [bool(t) and e is None for t, e in zip(texts, expected, strict=True)]


@pytest.mark.parametrize(
    "text,expected",
    [
        ("203.0.113.7/24", "203.0.113.0/24"),
        ("203.0.113.0/24", "203.0.113.0/24"),
        ("10.0.0.1", "10.0.0.1/32"),
        ("2001:DB8:0:0::/32", "2001:db8::/32"),
        ("::ffff:198.51.100.0/120", "198.51.100.0/24"),
        ("10.0.0.0/33", None),
        ("not a network", None),
        ("", None),
    ],
)
def test_parse_cidr(text: str, expected: str | None) -> None:
    net = parse_cidr(text)
    assert (None if net is None else net.with_prefixlen) == expected
