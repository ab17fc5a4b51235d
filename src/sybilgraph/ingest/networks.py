"""Which network owns an IP: longest-prefix match of IPs against the ``ip_owners`` ranges.

Method: CIDR ranges either nest or are disjoint (a laminar family), so they can be flattened
once into disjoint segments, each labelled with the most specific range covering it (one sweep
over the ranges sorted by start, then widest first, keeping the open ranges on a stack). Each IP
is then a binary search among the segment starts (``numpy.searchsorted`` for IPv4; ``bisect`` on
Python integers for the rarer IPv6). Cost: O(R log R) for R ranges plus O(N log R) for N
*distinct* IPs, never per interaction row. This is the textbook reduction of longest-prefix
matching to interval stabbing (Gupta and McKeown, "Algorithms for packet classification",
IEEE Network 15(2), 2001).

Pure: pyarrow and numpy only, no database.
"""

from __future__ import annotations

import bisect
import ipaddress
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sybilgraph.ingest.netaddr import parse_cidr

__all__ = ["IP_NETWORK_SCHEMA", "RangeIndex", "match_networks"]

# One row per IP that some range holds: the most specific range and what ip_owners says of it.
IP_NETWORK_SCHEMA = pa.schema([
    ("ip", pa.string()),
    ("cidr", pa.string()),
    ("owner", pa.string()),
    ("asn", pa.int64()),
    ("net_kind", pa.string()),
])


@dataclass(frozen=True)
class _Segments:
    """Disjoint segments [starts[i], starts[i+1]) labelled by a range index (-1: no range)."""

    starts: list[int]
    labels: list[int]


def _flatten(ranges: list[tuple[int, int, int]]) -> _Segments:
    """``ranges``: (first, last, label) of nested-or-disjoint ranges -> labelled segments."""
    starts: list[int] = []
    labels: list[int] = []

    def emit(at: int, label: int) -> None:
        if starts and starts[-1] == at:
            labels[-1] = label  # a range starting where another ended takes over at once
        else:
            starts.append(at)
            labels.append(label)

    stack: list[tuple[int, int]] = []  # (last, label) of the open ranges, innermost on top
    for first, last, label in sorted(ranges, key=lambda r: (r[0], -r[1])):
        while stack and stack[-1][0] < first:
            closed_last, _ = stack.pop()
            emit(closed_last + 1, stack[-1][1] if stack else -1)
        emit(first, label)
        stack.append((last, label))
    while stack:
        closed_last, _ = stack.pop()
        emit(closed_last + 1, stack[-1][1] if stack else -1)
    return _Segments(starts, labels)


class RangeIndex:
    """The ranges of one ``ip_owners`` table, ready to look IPs up."""

    def __init__(self, cidrs: list[str]) -> None:
        v4: list[tuple[int, int, int]] = []
        v6: list[tuple[int, int, int]] = []
        for i, text in enumerate(cidrs):
            net = parse_cidr(text)
            if net is None:
                continue  # staged values are canonical; a stray one owns nothing
            span = (int(net.network_address), int(net.broadcast_address), i)
            (v4 if net.version == 4 else v6).append(span)
        seg4 = _flatten(v4)
        self._v4_starts = np.array(seg4.starts, dtype=np.uint64)
        self._v4_labels = np.array(seg4.labels, dtype=np.int64)
        self._v6 = _flatten(v6)

    def lookup(self, ips: pa.Array) -> np.ndarray:
        """Per IP (canonical text), the index of its most specific range in ``cidrs``, or -1."""
        n = len(ips)
        out = np.full(n, -1, dtype=np.int64)
        if n == 0:
            return out
        is_v6 = np.asarray(pc.fill_null(pc.match_substring(ips, ":"), False).to_numpy(zero_copy_only=False))
        v4_pos = np.flatnonzero(~is_v6 & np.asarray(ips.is_valid().to_numpy(zero_copy_only=False)))
        if len(v4_pos) and len(self._v4_starts):
            values = _v4_ints(ips.take(pa.array(v4_pos)))
            seg = np.searchsorted(self._v4_starts, values, side="right") - 1
            hit = seg >= 0
            out[v4_pos[hit]] = self._v4_labels[seg[hit]]
        if self._v6.starts:
            for pos in np.flatnonzero(is_v6):
                seg = bisect.bisect_right(self._v6.starts, int(ipaddress.IPv6Address(ips[int(pos)].as_py()))) - 1
                if seg >= 0:
                    out[pos] = self._v6.labels[seg]
        return out


def _v4_ints(ips: pa.Array) -> np.ndarray:
    """Dotted quads (canonical, valid) -> uint64 values, with Arrow kernels."""
    octets = pc.cast(pc.list_flatten(pc.split_pattern(ips, ".")), pa.uint64()).to_numpy()
    quads = octets.reshape(-1, 4)
    return (quads[:, 0] << 24) | (quads[:, 1] << 16) | (quads[:, 2] << 8) | quads[:, 3]


def match_networks(ips: pa.Array, owners: pa.Table) -> pa.Table:
    """``IP_NETWORK_SCHEMA`` rows for the ``ips`` (distinct canonical texts) some range holds.

    ``owners``: one row per range (``cidr``, ``owner``, ``asn``, ``kind``), already the latest
    row of each cidr.
    """
    if owners.num_rows == 0 or len(ips) == 0:
        return IP_NETWORK_SCHEMA.empty_table()
    if isinstance(ips, pa.ChunkedArray):
        ips = ips.combine_chunks()
    label = RangeIndex(owners.column("cidr").to_pylist()).lookup(ips)
    held = np.flatnonzero(label >= 0)
    rows = pa.array(label[held])
    return pa.table(
        {
            "ip": ips.take(pa.array(held)),
            "cidr": owners.column("cidr").take(rows),
            "owner": owners.column("owner").take(rows),
            "asn": owners.column("asn").take(rows).cast(pa.int64()),
            "net_kind": owners.column("kind").take(rows),
        },
        schema=IP_NETWORK_SCHEMA,
    )
