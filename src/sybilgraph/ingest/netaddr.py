"""IP address helpers: validation, canonical text and the subnet an address belongs to.

Canonical text is the :mod:`ipaddress` compressed form (``2001:db8::1``, ``10.1.2.3``).  An
IPv4-mapped IPv6 address (``::ffff:10.1.2.3``) is the IPv4 host it maps, so both spellings link
to the same address; an IPv6 zone (``fe80::1%eth0``) is dropped.

Networks (``ip_owners.cidr``): :func:`parse_cidr` gives the canonical ``network/prefix`` text
(host bits cleared, so ``10.1.2.3/24`` is ``10.1.2.0/24``; a bare address is its /32 or /128;
an IPv4-mapped IPv6 network is the IPv4 network it maps, like addresses).

Subnets: the /24 of an IPv4 address (``10.1.2.0/24``) and the /48 of an IPv6 address
(``2001:db8:1::/48``), the usual unit of one customer's allocation.

:func:`normalize_ip_array` is the vectorised form used by the readers: dotted-quad IPv4 is
checked and converted with Arrow kernels; anything else (IPv6, junk) goes through
:mod:`ipaddress` once per unique value.
"""

from __future__ import annotations

import ipaddress
import socket
import struct

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = [
    "IPV4_SUBNET_PREFIX",
    "IPV6_SUBNET_PREFIX",
    "IPV4_PATTERN",
    "parse_ip",
    "canonical_ip",
    "subnet_of",
    "normalize_ip_array",
    "parse_cidr",
    "normalize_cidr_array",
]

IPV4_SUBNET_PREFIX = 24
IPV6_SUBNET_PREFIX = 48

_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
# Strict dotted quad, no leading zeros: accepts exactly what ipaddress.IPv4Address accepts.
IPV4_PATTERN = rf"^(?:{_OCTET}\.){{3}}{_OCTET}$"
_FMT8 = ":".join(["%x"] * 8)
_FMT3 = "%x:%x:%x::/" + str(IPV6_SUBNET_PREFIX)


def _hextets_text(h: tuple[int, ...]) -> str:
    """RFC 5952 text of 8 hextets, exactly as ``ipaddress`` compresses them: lower-case hex, the
    first longest run of two or more zero hextets replaced by ``::``."""
    if 0 not in h:
        return _FMT8 % h
    best_start, best_len = -1, 0
    i = 0
    while i < 8:
        if h[i] == 0:
            j = i
            while j < 8 and h[j] == 0:
                j += 1
            if j - i > best_len:
                best_start, best_len = i, j - i
            i = j
        else:
            i += 1
    parts = ["%x" % x for x in h]
    if best_len > 1:
        return ":".join(parts[:best_start]) + "::" + ":".join(parts[best_start + best_len :])
    return ":".join(parts)


def _from_v6_bytes(packed: bytes) -> tuple[str, str]:
    h = struct.unpack("!8H", packed)
    if h[:5] == (0, 0, 0, 0, 0) and h[5] == 0xFFFF:  # IPv4-mapped: the IPv4 host
        a, b, c, d = packed[12:]
        return f"{a}.{b}.{c}.{d}", f"{a}.{b}.{c}.0/{IPV4_SUBNET_PREFIX}"
    if h[0] and h[1] and h[2]:
        subnet = _FMT3 % h[:3]
    else:
        subnet = _hextets_text((h[0], h[1], h[2], 0, 0, 0, 0, 0)) + f"/{IPV6_SUBNET_PREFIX}"
    return _hextets_text(h), subnet


def _parse_ip_slow(text: str) -> tuple[str, str] | None:
    try:
        addr = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(addr, ipaddress.IPv6Address):
        return _from_v6_bytes(int(addr).to_bytes(16, "big"))  # int() drops a zone id
    net4 = ipaddress.IPv4Network((int(addr) >> 8 << 8, IPV4_SUBNET_PREFIX))
    return addr.compressed, net4.with_prefixlen


def parse_ip(text: str) -> tuple[str, str] | None:
    """``(canonical, subnet)`` of an IP address text, or None when it is not an IP address."""
    text = text.strip()
    if ":" in text:
        # inet_pton is ~50x faster than ipaddress; whatever it refuses (zone ids, junk) gets
        # the ipaddress verdict.  Both accept the same addresses otherwise (tests check it).
        try:
            return _from_v6_bytes(socket.inet_pton(socket.AF_INET6, text))
        except (OSError, ValueError, UnicodeError):
            pass
    return _parse_ip_slow(text)


def canonical_ip(text: str) -> str | None:
    """Canonical text of an IP address, or None when it is not one."""
    parsed = parse_ip(text)
    return None if parsed is None else parsed[0]


def subnet_of(text: str) -> str | None:
    """The /24 (IPv4) or /48 (IPv6) network of an address, as text; None when not an address."""
    parsed = parse_ip(text)
    return None if parsed is None else parsed[1]


def _v4_subnet(dotted_quads: pa.Array) -> pa.Array:
    """``a.b.c.d`` -> ``a.b.c.0/24`` (input already validated)."""
    return pc.binary_join_element_wise(pc.ascii_rtrim(dotted_quads, "0123456789"), "0/24", "")


def normalize_ip_array(values: pa.Array) -> tuple[pa.Array, pa.Array, pa.BooleanArray]:
    """Vectorised :func:`parse_ip` over a string array (stripped, empty already null).

    Returns ``(canonical, subnet, bad)``: canonical text and subnet (null where the input is
    null or invalid) and a boolean array without nulls, true where a non-null input is not an
    IP address.
    """
    n = len(values)
    if n == 0:
        empty = pa.array([], pa.string())
        return empty, empty, pa.array([], pa.bool_())
    is_v4 = pc.fill_null(pc.match_substring_regex(values, IPV4_PATTERN), False)
    other = pc.and_not(pc.is_valid(values), is_v4)
    if not pc.any(other).as_py():
        return values, _v4_subnet(values), pa.array(np.zeros(n, dtype=bool))

    # Dotted quads through Arrow; everything else once per unique value in Python.
    v4_only = pc.if_else(is_v4, values, pa.scalar(None, pa.string()))
    subnet = _v4_subnet(v4_only)
    rest = pc.dictionary_encode(values.filter(other))
    canon_u: list[str | None] = []
    subnet_u: list[str | None] = []
    for text in rest.dictionary.to_pylist():
        parsed = parse_ip(text)
        canon_u.append(None if parsed is None else parsed[0])
        subnet_u.append(None if parsed is None else parsed[1])
    rest_canon = pc.take(pa.array(canon_u, pa.string()), rest.indices)
    rest_subnet = pc.take(pa.array(subnet_u, pa.string()), rest.indices)
    canonical = pc.replace_with_mask(v4_only, other, rest_canon)
    subnet = pc.replace_with_mask(subnet, other, rest_subnet)
    bad = pc.and_(other, pc.is_null(canonical))
    return canonical, subnet, bad


_MAPPED_V4 = ipaddress.IPv6Network("::ffff:0:0/96")


def parse_cidr(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    """The network a CIDR text names (host bits cleared), or None when it is not one."""
    text = text.strip()
    if not text:
        return None
    try:
        net = ipaddress.ip_network(text, strict=False)
    except ValueError:
        return None
    if isinstance(net, ipaddress.IPv6Network) and net.prefixlen >= 96 and net.subnet_of(_MAPPED_V4):
        base = int(net.network_address) & 0xFFFFFFFF
        return ipaddress.IPv4Network((base, net.prefixlen - 96))
    return net


def normalize_cidr_array(values: pa.Array) -> tuple[pa.Array, pa.BooleanArray]:
    """``(canonical, bad)`` over a string array of CIDR texts (stripped, empty already null)."""
    if len(values) == 0:
        return pa.array([], pa.string()), pa.array([], pa.bool_())
    enc = pc.dictionary_encode(values)
    canon: list[str | None] = []
    for text in enc.dictionary.to_pylist():
        net = parse_cidr(text)
        canon.append(None if net is None else net.with_prefixlen)
    canonical = pc.take(pa.array(canon, pa.string()), enc.indices)
    bad = pc.and_(pc.is_valid(values), pc.is_null(canonical))
    return canonical, pc.fill_null(bad, False)
