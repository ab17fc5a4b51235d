"""The closed list of identifier kinds: graph label, key property, relationship type.

Labels and relationship types cannot be Cypher parameters, so every statement that needs one
is written per kind in ``cypher/``; this table names them, and nothing outside it invents one.
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
    )
}


def kind(name: str) -> IdentifierKind:
    try:
        return KINDS[name]
    except KeyError:
        raise ValueError(f"unknown identifier kind '{name}'; known: {', '.join(KINDS)}") from None
