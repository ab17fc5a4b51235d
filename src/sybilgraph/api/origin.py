"""Which address a request came from, for the audit log and the rate limit of strangers.

``X-Forwarded-For`` is a list each proxy appends its peer to, so only its right end is written
by proxies we run; everything left of them is whatever the client sent. The client is therefore
found from the right: with a list of trusted proxy networks, it is the first address from the
right that is not a trusted proxy (the TCP peer must itself be one, or the header is ignored);
with a count of proxies in front of the server, it is that many hops from the right. This is
the rule of RFC 7239 section 7.4 and of every reverse-proxy "real IP" module; taking the
*first* hop, as naive code does, lets any client write its own origin.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from functools import lru_cache

__all__ = ["TrustedProxies", "parse_networks"]

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(entries: Sequence[str]) -> tuple[Network, ...]:
    """``10.0.0.1`` or ``10.0.0.0/8`` or ``::1``: each an address or a network (ValueError if neither)."""
    return tuple(ipaddress.ip_network(e.strip(), strict=False) for e in entries if e.strip())


class TrustedProxies:
    """The proxies in front of the server: networks (``trusted_proxies``) or a hop count."""

    def __init__(self, networks: Sequence[str] = (), count: int = 0) -> None:
        self.networks = parse_networks(networks)
        self.count = max(0, count)

    def _trusted(self, address: str) -> bool:
        return _is_in(address, self.networks)

    def client(self, peer: str, forwarded: str | None) -> str:
        """The client's address given the TCP peer and the X-Forwarded-For header(s)."""
        if not forwarded or not (self.networks or self.count):
            return peer
        hops = [h.strip() for h in forwarded.split(",") if h.strip()]
        if self.networks:
            if not self._trusted(peer):
                return peer  # not from our proxy: the header is the client's own writing
            current = peer
            for hop in reversed(hops):
                if _valid(hop) is None:
                    return current  # garbage in the chain: the last address a proxy vouched for
                if not self._trusted(hop):
                    return _valid(hop) or current
                current = hop
            return current
        if len(hops) < self.count:
            return peer  # fewer hops than proxies: the header cannot be ours
        hop = hops[-self.count]
        return _valid(hop) or peer


@lru_cache(maxsize=4096)
def _valid(address: str) -> str | None:
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return None


@lru_cache(maxsize=4096)
def _parsed(address: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(address)
    except ValueError:
        return None


def _is_in(address: str, networks: tuple[Network, ...]) -> bool:
    addr = _parsed(address)
    return addr is not None and any(addr.version == n.version and addr in n for n in networks)
