"""The closed list of identifier kinds: graph label, key property, relationship type.

Labels and relationship types cannot be Cypher parameters, so every statement that needs one
is written per kind in ``cypher/``; this table names them, and nothing outside it invents one.

Where each kind comes from (``ingest/aggregate.py``):

| kind | source |
|---|---|
| card | payment_methods.instrument_id |
| bin | payment_methods.bin (the issuer range of a card) |
| ip | interactions.ip, sessions.ip, accounts.signup_ip |
| subnet | the /24 (IPv4) or /48 (IPv6) of those IPs |
| device | interactions.device_id, sessions.device_id |
| tls | sessions.tls_fingerprint |
| user_agent | sessions.user_agent |
| template | interactions.prompt_fingerprint |
| api_key | interactions.api_key_id |
| email_domain | accounts.email_domain |
| network_owner | the owner (``ip_owners.owner``: an org_id or a name) of the most specific range holding an IP the account used; count = the account's activity from that owner's networks |
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["IdentifierKind", "KINDS", "kind"]


@dataclass(frozen=True)
class IdentifierKind:
    name: str  # the kind as users and the API say it
    label: str  # Neo4j node label
    key: str  # unique key property
    rel: str  # (:Account)-[rel]->(:label)
    plural: str  # cypher file stem: cypher/ingest/merge_<plural>.cypher

    @property
    def merge_nodes(self) -> str:
        return f"ingest/merge_{self.plural}"

    @property
    def merge_links(self) -> str:
        return f"ingest/merge_{self.plural}_links"

    @property
    def create_links(self) -> str:
        """``merge_links`` with CREATE: for links the graph is known not to hold (ingest/sync.py)."""
        return f"ingest/create_{self.plural}_links"

    @property
    def delete_nodes(self) -> str:
        return f"ingest/delete_{self.plural}"

    @property
    def delete_links(self) -> str:
        return f"ingest/delete_{self.plural}_links"

    @property
    def statements(self) -> tuple[str, ...]:
        """Every Cypher statement written for this kind."""
        return (self.merge_nodes, self.merge_links, self.create_links, self.delete_nodes, self.delete_links)


KINDS: dict[str, IdentifierKind] = {
    k.name: k
    for k in (
        IdentifierKind("card", "PaymentInstrument", "instrument_id", "PAID_WITH", "cards"),
        IdentifierKind("ip", "IP", "ip", "USED_IP", "ips"),
        IdentifierKind("subnet", "Subnet", "cidr", "USED_SUBNET", "subnets"),
        IdentifierKind("device", "Device", "device_id", "USED_DEVICE", "devices"),
        IdentifierKind("tls", "TlsFingerprint", "fingerprint", "USED_TLS", "tls_fingerprints"),
        IdentifierKind("template", "PromptTemplate", "fingerprint", "USED_TEMPLATE", "templates"),
        IdentifierKind("email_domain", "EmailDomain", "domain", "HAS_EMAIL_DOMAIN", "email_domains"),
        IdentifierKind("user_agent", "UserAgent", "user_agent", "USED_USER_AGENT", "user_agents"),
        IdentifierKind("bin", "CardBin", "bin", "USED_CARD_BIN", "card_bins"),
        IdentifierKind("api_key", "ApiKey", "api_key_id", "USED_API_KEY", "api_keys"),
        IdentifierKind("network_owner", "NetworkOwner", "owner", "USED_NETWORK", "network_owners"),
    )
}


def kind(name: str) -> IdentifierKind:
    try:
        return KINDS[name]
    except KeyError:
        raise ValueError(f"unknown identifier kind '{name}'; known: {', '.join(KINDS)}") from None
