"""The data contract (docs/data-contract.md) as data: tables, columns, types, requirements.

Readers, validators, the generator and the tests all take column names and types from here,
so the contract is written down once in code.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

__all__ = [
    "ACCOUNT_STATUSES",
    "NETWORK_KINDS",
    "ORGANISATION_KINDS",
    "ColumnType",
    "Column",
    "Table",
    "TABLES",
    "TABLE_ORDER",
    "FILE_EXTENSIONS",
    "EXPORT_COLUMNS",
]


class ColumnType(str, Enum):
    STRING = "string"
    ID = "id"  # 1-128 printable characters
    TIMESTAMP = "timestamp"
    IP = "ip"
    INT_NONNEG = "int>=0"
    BOOL = "bool"
    COUNTRY = "country"  # ISO-3166-1 alpha-2
    INSTRUMENT = "instrument"  # an id that must not look like a raw card number
    CIDR = "cidr"  # an IPv4 or IPv6 network, e.g. 203.0.113.0/24


# Closed lists of the contract: a value outside them is a bad row (compared lower-cased).
ACCOUNT_STATUSES: tuple[str, ...] = ("active", "suspended", "closed")
ORGANISATION_KINDS: tuple[str, ...] = ("ai_lab", "enterprise", "university", "reseller", "cloud_provider", "other")
NETWORK_KINDS: tuple[str, ...] = ("residential", "mobile", "datacenter", "vpn", "proxy", "education", "corporate")


@dataclass(frozen=True)
class Column:
    name: str
    type: ColumnType
    required: bool = False
    # A closed list of values (text columns): values are lower-cased, anything else is rejected.
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[Column, ...]
    required: bool = False
    # Link tables reference accounts; a row naming an unknown account is quarantined.
    references_accounts: bool = True

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def required_columns(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.required)

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)


C = Column
T = ColumnType

TABLES: dict[str, Table] = {
    "accounts": Table(
        "accounts",
        (
            C("account_id", T.ID, True),
            C("created_at", T.TIMESTAMP, True),
            C("email_domain", T.STRING),
            C("country", T.COUNTRY),
            C("signup_ip", T.IP),
            C("status", T.STRING, choices=ACCOUNT_STATUSES),
        ),
        required=True,
        references_accounts=False,
    ),
    "organisations": Table(
        "organisations",
        (
            C("org_id", T.ID, True),
            C("name", T.STRING, True),
            C("country", T.COUNTRY),
            C("domains", T.STRING),  # ';'-separated
            C("kind", T.STRING, choices=ORGANISATION_KINDS),
        ),
        references_accounts=False,
    ),
    "ip_owners": Table(
        "ip_owners",
        (
            C("cidr", T.CIDR, True),
            C("owner", T.STRING, True),
            C("asn", T.INT_NONNEG),
            C("kind", T.STRING, choices=NETWORK_KINDS),
        ),
        references_accounts=False,
    ),
    "payment_methods": Table(
        "payment_methods",
        (
            C("account_id", T.ID, True),
            C("instrument_id", T.INSTRUMENT, True),
            C("bin", T.STRING),
            C("last4", T.STRING),
            C("issuer_country", T.COUNTRY),
            C("added_at", T.TIMESTAMP),
        ),
    ),
    "sessions": Table(
        "sessions",
        (
            C("account_id", T.ID, True),
            C("session_id", T.ID),
            C("ts", T.TIMESTAMP, True),
            C("ip", T.IP, True),
            C("device_id", T.ID),
            C("user_agent", T.STRING),
            C("tls_fingerprint", T.STRING),
        ),
    ),
    "interactions": Table(
        "interactions",
        (
            C("account_id", T.ID, True),
            C("interaction_id", T.ID),
            C("ts", T.TIMESTAMP, True),
            C("ip", T.IP, True),
            C("device_id", T.ID),
            C("api_key_id", T.ID),
            C("model", T.STRING),
            C("input_tokens", T.INT_NONNEG),
            C("output_tokens", T.INT_NONNEG),
            C("prompt_fingerprint", T.STRING),
            C("category", T.STRING),
        ),
    ),
    "labels": Table(
        "labels",
        (
            C("account_id", T.ID, True),
            C("operator_label", T.STRING, True),
            C("organisation", T.STRING),
            C("source", T.STRING),
        ),
    ),
    "truth": Table(
        "truth",
        (
            C("account_id", T.ID, True),
            C("operator", T.STRING),
            C("is_distillation", T.BOOL, True),
            C("organisation", T.STRING),
        ),
    ),
}

# accounts first: link tables are checked against the accounts known by then.
TABLE_ORDER: tuple[str, ...] = (
    "accounts",
    "organisations",
    "ip_owners",
    "payment_methods",
    "sessions",
    "interactions",
    "labels",
    "truth",
)

# Longest first, so ".csv.gz" wins over ".csv" style suffix matching.
FILE_EXTENSIONS: tuple[str, ...] = (".jsonl.gz", ".csv.gz", ".parquet", ".jsonl", ".csv")

EXPORT_COLUMNS: tuple[str, ...] = (
    "account_id",
    "operator_id",
    "operator_label",
    "confidence",
    "campaign_score",
    "flagged",
    "organisation_id",
)
