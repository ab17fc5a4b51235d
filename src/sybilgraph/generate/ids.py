"""Identifier and address fabrication, vectorised.

Why: the bundle holds tens of millions of rows whose identifiers are strings. Building them one
Python string at a time would take longer than everything else together, so identifiers are
made as uint64 keys (a bijective mix of a per-run salt and a running index: unique by
construction, deterministic by seed, opaque to a reader) and turned into Arrow string arrays
straight from byte buffers. Addresses are uint32 (IPv4) drawn from disjoint "purpose" spaces so
that, for example, a datacenter block can never collide with somebody's home address by chance.
"""

from __future__ import annotations

import hashlib
import ipaddress

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = [
    "IpSpace",
    "bundle_salt",
    "row_ids",
    "format_ipv4",
    "format_ipv6",
    "hex_strings",
    "mix64",
    "salted_keys",
]

_U64 = np.uint64
_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)


def mix64(x: np.ndarray) -> np.ndarray:
    """SplitMix64 finaliser: a bijection on uint64 that scrambles every bit."""
    z = np.asarray(x, dtype=_U64).copy()
    z += _U64(0x9E3779B97F4A7C15)
    z ^= z >> _U64(30)
    z *= _U64(0xBF58476D1CE4E5B9)
    z ^= z >> _U64(27)
    z *= _U64(0x94D049BB133111EB)
    z ^= z >> _U64(31)
    return z


def salted_keys(seed: int, namespace: int, index: np.ndarray) -> np.ndarray:
    """Unique, seed-dependent uint64 keys for the distinct indices of one namespace."""
    salt = mix64(np.array([(seed & 0xFFFFFFFF) << 16 | (namespace & 0xFFFF)], dtype=_U64))
    return mix64(np.asarray(index, dtype=_U64) ^ salt)


def hex_strings(keys: np.ndarray, prefix: str = "") -> pa.StringArray:
    """``prefix`` + 16 lowercase hex digits of each uint64 key, as an Arrow string array."""
    keys = np.asarray(keys, dtype=_U64)
    n = len(keys)
    p = prefix.encode("ascii")
    width = len(p) + 16
    buf = np.empty((n, width), dtype=np.uint8)
    if p:
        buf[:, : len(p)] = np.frombuffer(p, dtype=np.uint8)
    big_endian = keys.astype(">u8").view(np.uint8).reshape(n, 8)
    buf[:, len(p) :: 2] = _HEX[big_endian >> 4]
    buf[:, len(p) + 1 :: 2] = _HEX[big_endian & 15]
    offsets = np.arange(0, (n + 1) * width, width, dtype=np.int64)
    return pa.LargeStringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(np.ascontiguousarray(buf))).cast(
        pa.string()
    )


def bundle_salt(seed: int, scale: float, mode: str) -> str:
    """8 hex digits naming one generated bundle (seed, scale and tradecraft mode)."""
    return hashlib.blake2b(f"{seed}|{scale!r}|{mode}".encode(), digest_size=4).hexdigest()


def row_ids(prefix: str, salt: str, rows: np.ndarray) -> pa.StringArray:
    """``prefix_salt_row`` for each row number: unique across the bundles a run may combine
    (the salt differs between seeds, scales and modes), and cheap to store because consecutive
    rows share all but their last digits (random 64-bit ids would double the bundle on disk)."""
    numbers = pc.cast(pa.array(np.asarray(rows, dtype=np.int64)), pa.string())
    return pc.binary_join_element_wise(pa.scalar(f"{prefix}_{salt}_"), numbers, "")


def format_ipv4(addresses: np.ndarray) -> pa.StringArray:
    """Dotted-quad text of uint32 addresses."""
    a = np.asarray(addresses, dtype=np.uint32)
    octets = [pa.array(((a >> np.uint32(s)) & np.uint32(255)).astype(np.int64)) for s in (24, 16, 8, 0)]
    texts = [pc.cast(o, pa.string()) for o in octets]
    return pc.binary_join_element_wise(*texts, ".")


def format_ipv6(high: np.ndarray, low: np.ndarray) -> list[str]:
    """Canonical (compressed) text of IPv6 addresses given as two uint64 halves."""
    return [
        str(ipaddress.IPv6Address((int(h) << 64) | int(lo))) for h, lo in zip(high.tolist(), low.tolist(), strict=True)
    ]


def _first_octets(ranges: list[tuple[int, int]], exclude: set[int]) -> np.ndarray:
    vals = [o for lo, hi in ranges for o in range(lo, hi + 1) if o not in exclude]
    return np.array(vals, dtype=np.uint32)


# Never hand out private, loopback, link-local, CGNAT, documentation or multicast space.
_RESERVED = {0, 10, 100, 127, 169, 172, 192, 198, 203}
# Octets of the big cloud providers: servers of developers and of operators live here.
CLOUD_OCTETS = np.array([3, 13, 18, 34, 35, 52, 54], dtype=np.uint32)
# Octets used for dedicated /24 blocks (carrier NAT, VPN exits, campuses, offices, datacenters).
BLOCK_OCTETS = _first_octets([(128, 191)], _RESERVED)
# Residential ISP space: everything else that is public unicast.
HOME_OCTETS = _first_octets([(1, 126), (193, 223)], _RESERVED | set(CLOUD_OCTETS.tolist()))


class IpSpace:
    """Hands out IPv4 addresses and /24 blocks that are unique across the whole run."""

    def __init__(self, rng: np.random.Generator) -> None:
        self._rng = rng
        self._used = np.empty(0, dtype=np.uint32)
        self._used_blocks = np.empty(0, dtype=np.uint32)

    def _draw_unique(
        self, n: int, octets: np.ndarray, used: np.ndarray, shift: int, avoid: tuple[np.ndarray, int] | None = None
    ) -> np.ndarray:
        """n distinct values (first octet from ``octets``) not in ``used``; keeps draw order.
        ``avoid`` = (values, shift): also reject a candidate whose ``cand >> shift`` is among them."""
        out = np.empty(0, dtype=np.uint32)
        span = 1 << (24 - shift)
        while len(out) < n:
            need = n - len(out)
            m = need + need // 8 + 16
            first = octets[self._rng.integers(0, len(octets), m)]
            rest = self._rng.integers(0, span, m).astype(np.uint32)
            cand = (first << np.uint32(24 - shift)) | rest
            _, idx = np.unique(cand, return_index=True)
            cand = cand[np.sort(idx)]
            cand = cand[~np.isin(cand, used)]
            cand = cand[~np.isin(cand, out)]
            if avoid is not None:
                cand = cand[~np.isin(cand >> np.uint32(avoid[1]), avoid[0])]
            out = np.concatenate([out, cand[:need]])
        return out

    def homes(self, n: int) -> np.ndarray:
        """Residential addresses, scattered over many /24s."""
        out = self._draw_unique(n, HOME_OCTETS, self._used, 0)
        self._used = np.concatenate([self._used, out])
        return out

    def cloud(self, n: int) -> np.ndarray:
        """Single server addresses in the cloud providers' space."""
        # Never inside a /24 handed out whole (an operator's or a tenant's datacenter range).
        out = self._draw_unique(n, CLOUD_OCTETS, self._used, 0, avoid=(self._used_blocks, 8))
        self._used = np.concatenate([self._used, out])
        return out

    def blocks(self, n: int, octets: np.ndarray | None = None) -> np.ndarray:
        """n dedicated /24 networks (as the uint32 of their .0 address)."""
        space = BLOCK_OCTETS if octets is None else octets
        # A whole /24 never holds an address handed out singly (cloud servers share the octets).
        nets = self._draw_unique(n, space, self._used_blocks, 8, avoid=(self._used >> np.uint32(8), 0))
        self._used_blocks = np.concatenate([self._used_blocks, nets])
        return nets << np.uint32(8)

    def hosts(self, block: np.ndarray, count: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``count[i]`` distinct host addresses inside ``block[i]``; returns (addresses, owner i).

        Hosts inside a block step by 37 (coprime to 254), so they are distinct for up to 254.
        """
        count = np.minimum(np.asarray(count, dtype=np.int64), 254)
        owner = np.repeat(np.arange(len(block)), count)
        j = np.arange(len(owner)) - np.repeat(np.cumsum(count) - count, count)
        offset = self._rng.integers(0, 254, len(block))[owner]
        host = 1 + (offset + 37 * j) % 254
        # Blocks come from octets that homes() and cloud() never use, so hosts are unique.
        return block[owner] | host.astype(np.uint32), owner
