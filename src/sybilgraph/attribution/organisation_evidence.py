"""What ties an operator to an organisation, and how common each tie is in the population (pure).

The organisation step (``organisations.py``) weighs *ties* between an operator's members and an
organisation, each against the base rate of that organisation's identifiers in the population
(the term-frequency idea of record linkage: sharing a domain used by 4 of 5,000 accounts is
evidence, sharing one used by 1,900 is not). This module finds the ties, with DuckDB over
ingest's state tables:

* **who the organisations are** (``OrgRegistry``): the ``organisations`` table (confirmed), the
  owners of ``ip_owners`` ranges no table names (discovered, unconfirmed: the contract lets
  ``owner`` be a name), and names investigators' labels use; e-mail domains no table lists are
  attached to the organisation whose office (corporate) network most of their users work from,
  when most of that office's users are on the domain;
* **an organisation's open accounts** (its *anchors*): accounts on its domains, and accounts
  working mostly from its offices (corporate or campus ranges; a hosting or access network's
  customers are not its own accounts); never the members of a flagged operator (a campaign's
  accounts are not anyone's open accounts);
* **ties** of a member of operator X to organisation o, one comparison each: ``domain`` (the
  member's e-mail domain is o's), ``office_network`` / ``hosted_network`` / ``access_network``
  (it used an IP of a range o owns, by the range's kind), ``card`` / ``device`` / ``ip`` /
  ``api_key`` (it shares one with an open account of o outside X; an IP of o's own ranges is a
  network tie), ``label`` (investigators labelled the member with o);
* **popularity** of each (organisation, comparison), its base rate: the share of all accounts on
  o's domains, on o's networks of that kind, or (shared identifiers) that are o's open accounts.
  A webmail provider's domain, an ISP's or a cloud provider's ranges are popular.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import duckdb
import pyarrow as pa

__all__ = [
    "DIRECT_COMPARISONS",
    "SHARED_KINDS",
    "OrgRegistry",
    "Ties",
    "build_registry",
    "find_ties",
    "normalise_name",
]

# Identifier kinds an operator's member can share with an organisation's open accounts, and the
# comparison each feeds.
SHARED_KINDS: dict[str, str] = {"card": "card", "device": "device", "ip": "ip", "api_key": "api_key"}
# A tie to an organisation's networks is weighed by what kind of network it is (ip_owners.kind):
# an office, a hosting (datacenter) range, or an access network (residential, mobile, VPN, proxy).
NETWORK_COMPARISONS: dict[str, str] = {
    "corporate": "office_network", "education": "office_network", "datacenter": "hosted_network",
}
ACCESS_NETWORK = "access_network"
DIRECT_COMPARISONS: tuple[str, ...] = ("domain", "office_network", "hosted_network", ACCESS_NETWORK, "label")


def normalise_name(text: str | None) -> str:
    """How names and ids are compared: case and surrounding blanks do not matter."""
    return " ".join(str(text or "").split()).lower()


@dataclass(frozen=True)
class OrgRegistry:
    """Every organisation attribution can name: org_id, name, confirmed, kind, country, domains, source."""

    orgs: pa.Table
    owner_org: pa.Table  # owner (as ip_owners writes it) -> org_id
    domain_org: pa.Table  # listed e-mail domain -> org_id
    label_org: pa.Table  # account_id -> org_id named by an investigators' label

    def names(self) -> dict[str, str]:
        return dict(zip(self.orgs.column("org_id").to_pylist(), self.orgs.column("name").to_pylist()))


def build_registry(organisations: pa.Table, ip_owners: pa.Table, labels: pa.Table | None) -> OrgRegistry:
    """Listed organisations, then network owners and label names no table lists (unconfirmed).

    An owner or label value resolves to a listed organisation by its org_id or its name (case
    and spacing ignored); otherwise it names a discovered organisation whose id is that name as
    the data writes it (the contract's own convention for organisations no table lists).
    """
    rows: dict[str, dict[str, object]] = {}
    index: dict[str, str] = {}
    for r in organisations.to_pylist():
        oid = str(r["org_id"])
        rows[oid] = {
            "org_id": oid, "name": str(r.get("name") or oid), "confirmed": True, "kind": r.get("kind"),
            "country": r.get("country"), "domains": sorted({normalise_name(d) for d in (r.get("domains") or []) if d}),
            "source": "organisations table",
        }
        index.setdefault(normalise_name(oid), oid)
    for oid, row in rows.items():
        index.setdefault(normalise_name(str(row["name"])), oid)

    def resolve(value: str, source: str) -> str:
        key = normalise_name(value)
        if key not in index:
            rows[value] = {"org_id": value, "name": value, "confirmed": False, "kind": None, "country": None,
                           "domains": [], "source": source}
            index[key] = value
        return index[key]

    owners = sorted({str(o) for o in ip_owners.column("owner").to_pylist() if o}) if ip_owners.num_rows else []
    owner_org = {o: resolve(o, "network owner") for o in owners}
    label_org: dict[str, str] = {}
    if labels is not None and labels.num_rows and "organisation" in labels.column_names:
        for acc, org in zip(labels.column("account_id").to_pylist(), labels.column("organisation").to_pylist()):
            if org and str(org).strip():
                label_org[str(acc)] = resolve(str(org).strip(), "investigators' label")
    domain_org = {d: oid for oid, row in rows.items() for d in row["domains"]}  # type: ignore[attr-defined]
    return OrgRegistry(
        orgs=pa.Table.from_pylist(sorted(rows.values(), key=lambda r: str(r["org_id"])), schema=_ORG_SCHEMA),
        owner_org=_pairs("owner", owner_org),
        domain_org=_pairs("domain", domain_org),
        label_org=_pairs("account_id", label_org),
    )


_ORG_SCHEMA = pa.schema(
    [("org_id", pa.string()), ("name", pa.string()), ("confirmed", pa.bool_()), ("kind", pa.string()),
     ("country", pa.string()), ("domains", pa.list_(pa.string())), ("source", pa.string())]
)


def _pairs(key: str, mapping: Mapping[str, str]) -> pa.Table:
    items = sorted(mapping.items())
    return pa.table({key: pa.array([k for k, _ in items], pa.string()), "org_id": pa.array([v for _, v in items], pa.string())})


@dataclass
class Ties:
    """Ties of operators' members to organisations, and the population base rates."""

    # operator_id, org_id, comparison, account_id, kind, value: one row per member tie (the
    # identifier behind it: the domain, the IP in o's range, the shared card ...).
    ties: pa.Table
    # org_id, comparison, share: the base rate of the organisation's identifiers of that comparison.
    popularity: pa.Table
    # org_id, anchors: open accounts per organisation.
    anchors: pa.Table
    # domain -> org_id for domains attached to an organisation from its users' office network.
    attached_domains: pa.Table
    n_accounts: int


_SETUP_SQL = """
CREATE OR REPLACE TEMP TABLE acct AS
SELECT account_id, lower(trim(email_domain)) AS domain FROM accounts;

CREATE OR REPLACE TEMP TABLE acct_ip AS
SELECT account_id, value AS ip, count FROM account_identifiers WHERE kind = 'ip';

CREATE OR REPLACE TEMP TABLE ip_org AS
SELECT n.ip, o.org_id, n.net_kind, coalesce(k.comparison, 'access_network') AS comparison
FROM ip_networks n JOIN owner_org o ON o.owner = n.owner LEFT JOIN net_comparison k ON k.net_kind = lower(n.net_kind);

-- Every use of an IP in an organisation's ranges.
CREATE OR REPLACE TEMP TABLE net_use AS
SELECT a.account_id, i.org_id, i.net_kind, i.comparison, a.ip, a.count FROM acct_ip a JOIN ip_org i USING (ip);

-- The organisation whose networks carry most of an account's activity, when they carry most.
CREATE OR REPLACE TEMP TABLE main_net AS
WITH per AS (SELECT account_id, org_id, sum(count) AS c, bool_or(net_kind = 'corporate') AS office
             FROM net_use GROUP BY account_id, org_id),
tot AS (SELECT account_id, sum(count) AS total FROM acct_ip GROUP BY account_id)
SELECT account_id, arg_max(org_id, c) AS org_id, max(c) AS c, any_value(total) AS total,
       arg_max(office, c) AS office
FROM per JOIN tot USING (account_id)
GROUP BY account_id
HAVING 2 * max(c) > any_value(total);

CREATE OR REPLACE TEMP TABLE campaign AS
SELECT m.account_id FROM members m SEMI JOIN flagged f USING (operator_id);

-- E-mail domains no table lists, attached to the organisation whose office network most of their
-- (open) users work from, when most of that office's users are on the domain.
CREATE OR REPLACE TEMP TABLE attached AS
WITH open_acct AS (SELECT * FROM acct ANTI JOIN campaign USING (account_id)),
free AS (SELECT * FROM open_acct WHERE domain IS NOT NULL AND domain NOT IN (SELECT domain FROM domain_org)),
users AS (SELECT domain, count(*) AS n FROM free GROUP BY domain),
office AS (SELECT f.domain, m.org_id, count(*) AS n
           FROM free f JOIN main_net m USING (account_id) WHERE m.office GROUP BY f.domain, m.org_id),
staff AS (SELECT m.org_id, count(*) AS n FROM main_net m SEMI JOIN open_acct USING (account_id)
          WHERE m.office GROUP BY m.org_id)
SELECT o.domain, o.org_id
FROM office o JOIN users u USING (domain) JOIN staff s USING (org_id)
WHERE 2 * o.n > u.n AND 2 * o.n > s.n AND u.n >= 2;

CREATE OR REPLACE TEMP TABLE dom_org AS
SELECT domain, org_id FROM domain_org UNION SELECT domain, org_id FROM attached;

-- Open accounts of each organisation: on its e-mail domains, or working mostly from its offices
-- (the customers of a hosting or access network are not its own accounts).
CREATE OR REPLACE TEMP TABLE anchor AS
SELECT DISTINCT account_id, org_id FROM (
    SELECT a.account_id, d.org_id FROM acct a JOIN dom_org d USING (domain)
    UNION ALL
    SELECT account_id, org_id FROM main_net WHERE office
) ANTI JOIN campaign USING (account_id);

-- Identifiers of ties: shared values and the organisations whose open accounts use them.
CREATE OR REPLACE TEMP TABLE shared_links AS
SELECT account_id, kind, value FROM links WHERE kind IN ('card', 'device', 'ip', 'api_key');

CREATE OR REPLACE TEMP TABLE value_anchor AS
SELECT l.kind, l.value, a.org_id, count(*) AS n_anchor
FROM shared_links l JOIN anchor a USING (account_id)
GROUP BY l.kind, l.value, a.org_id;
"""

# Member ties (operator X, org o): direct ones (o's domain, o's offices, a label naming o) as the
# tables say; o's hosting and access ranges only when o has open accounts outside X; shared ones
# need an open account of o outside X on the same value. An IP of o's own ranges is a network tie,
# not a shared one.
_TIES_SQL = """
WITH direct AS (
    SELECT m.operator_id, d.org_id, 'domain' AS comparison, m.account_id, 'email_domain' AS kind, a.domain AS value
    FROM members m JOIN acct a USING (account_id) JOIN dom_org d USING (domain)
    UNION ALL
    SELECT m.operator_id, n.org_id, n.comparison, m.account_id, 'ip', n.ip
    FROM members m JOIN net_use n USING (account_id)
),
mv AS (SELECT m.operator_id, l.account_id, l.kind, l.value FROM members m JOIN shared_links l USING (account_id)),
value_in AS (
    SELECT mv.operator_id, mv.kind, mv.value, a.org_id, count(*) AS n_in
    FROM mv JOIN anchor a USING (account_id) GROUP BY mv.operator_id, mv.kind, mv.value, a.org_id
),
shared AS (
    SELECT mv.operator_id, v.org_id, mv.kind AS comparison, mv.account_id, mv.kind, mv.value
    FROM mv JOIN value_anchor v USING (kind, value)
    LEFT JOIN value_in i ON i.operator_id = mv.operator_id AND i.kind = mv.kind AND i.value = mv.value AND i.org_id = v.org_id
    LEFT JOIN ip_org p ON mv.kind = 'ip' AND p.ip = mv.value AND p.org_id = v.org_id
    WHERE v.n_anchor - coalesce(i.n_in, 0) >= 1 AND p.ip IS NULL
),
-- A hosting or access range speaks for its owner only when the owner has open accounts outside
-- the operator; otherwise it is just the operator's provider.
staffed AS (
    SELECT p.operator_id, p.org_id
    FROM (SELECT DISTINCT operator_id, org_id FROM direct WHERE comparison IN ('hosted_network', 'access_network')) p
    JOIN (SELECT org_id, count(*) AS n FROM anchor GROUP BY org_id) c USING (org_id)
    LEFT JOIN (SELECT m.operator_id, a.org_id, count(*) AS n_in FROM members m JOIN anchor a USING (account_id)
               GROUP BY m.operator_id, a.org_id) i USING (operator_id, org_id)
    WHERE c.n - coalesce(i.n_in, 0) >= 1
),
labelled AS (
    SELECT m.operator_id, l.org_id, 'label' AS comparison, m.account_id, 'label' AS kind, l.org_id AS value
    FROM members m JOIN label_org l USING (account_id)
)
SELECT * FROM direct WHERE comparison NOT IN ('hosted_network', 'access_network')
UNION ALL SELECT * FROM direct d SEMI JOIN staffed USING (operator_id, org_id)
WHERE d.comparison IN ('hosted_network', 'access_network')
UNION ALL SELECT * FROM shared
UNION ALL SELECT * FROM labelled
"""

# Base rates, per organisation and comparison: the share of all accounts on its e-mail domains, on
# its networks of each kind, and, for shared identifiers, that are its open accounts (its presence
# in the population: a webmail provider's or an ISP's is large, a company's small).
_POPULARITY_SQL = """
SELECT org_id, comparison, count(DISTINCT account_id)::DOUBLE / {n} AS share FROM (
    SELECT d.org_id, 'domain' AS comparison, a.account_id FROM acct a JOIN dom_org d USING (domain)
    UNION ALL
    SELECT org_id, comparison, account_id FROM net_use
    UNION ALL
    SELECT a.org_id, k.comparison, a.account_id FROM anchor a CROSS JOIN shared_comparisons k
)
GROUP BY org_id, comparison
ORDER BY org_id, comparison
"""


def find_ties(
    tables: Mapping[str, pa.Table],
    registry: OrgRegistry,
    members: pa.Table,
    flagged: Iterable[str],
    memory_limit: str | None = None,
) -> Ties:
    """Ties of every operator's members to every organisation (see the module note).

    ``tables``: ingest's state tables ``accounts``, ``account_identifiers``, ``links``,
    ``ip_networks``; ``members``: account_id, operator_id; ``flagged``: operator ids judged campaigns.
    """
    con = duckdb.connect()
    try:
        con.execute("SET enable_progress_bar = false")
        if memory_limit:
            con.execute(f"SET memory_limit = '{memory_limit}'")
        con.register("accounts", tables["accounts"].select(["account_id", "email_domain"]))
        con.register("account_identifiers", tables["account_identifiers"])
        con.register("links", tables["links"])
        con.register("ip_networks", tables["ip_networks"])
        con.register("owner_org", registry.owner_org)
        con.register("domain_org", registry.domain_org)
        con.register("label_org", registry.label_org)
        con.register("members", members.select(["account_id", "operator_id"]))
        con.register("flagged", pa.table({"operator_id": pa.array(sorted(set(flagged)), pa.string())}))
        con.register("net_comparison", pa.table({"net_kind": list(NETWORK_COMPARISONS), "comparison": list(NETWORK_COMPARISONS.values())}))
        con.register("shared_comparisons", pa.table({"comparison": sorted(set(SHARED_KINDS.values()))}))
        con.execute(_SETUP_SQL)
        n = tables["accounts"].num_rows
        return Ties(
            ties=con.sql(_TIES_SQL).to_arrow_table(),
            popularity=con.sql(_POPULARITY_SQL.format(n=float(max(n, 1)))).to_arrow_table(),
            anchors=con.sql("SELECT org_id, count(*) AS anchors FROM anchor GROUP BY org_id ORDER BY org_id").to_arrow_table(),
            attached_domains=con.sql("SELECT * FROM attached ORDER BY domain").to_arrow_table(),
            n_accounts=n,
        )
    finally:
        con.close()
