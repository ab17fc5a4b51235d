"""Per-request DataLoaders: every resolver that needs rows asks a loader, never the database.

A GraphQL response is a tree; resolving it field by field would issue one statement per
account, per operator, per edge. Loaders collect the keys one tick of the event loop asks for
and answer them with one ``UNWIND $ids`` statement (or one DuckDB scan for timelines), so a
page of 100 operators with their members, evidence and lineage costs a handful of statements,
whatever its size. Paged loaders group their keys by page size (a Cypher ``LIMIT`` must be one
value per statement), which in practice is one group. Loaders live for one request, so their
cache never serves one user's data to another or a stale row to the next request.

Loaders also record which accounts and operators a request touched, for the audit log.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, TypeVar

from strawberry.dataloader import DataLoader

from sybilgraph.api.db import RequestDb, Row
from sybilgraph.api.timeline import DailyRow, daily_activity
from sybilgraph.api.used_identifiers import used_by
from sybilgraph.identifiers import KINDS
from sybilgraph.settings import Settings

__all__ = ["KIND_OF_REL", "IdentifierKey", "Loaders", "MembersKey", "OrganisationAccountsKey", "Page", "TimelineKey", "Touched"]

KIND_OF_REL: dict[str, str] = {k.rel: k.name for k in KINDS.values()}

K = TypeVar("K", bound=Hashable)


@dataclass
class Touched:
    """Accounts and operators whose data a request returned or changed (for the audit log)."""

    accounts: set[str]
    operators: set[str]

    @classmethod
    def empty(cls) -> Touched:
        return cls(set(), set())


@dataclass(frozen=True)
class MembersKey:
    operator_id: str
    after: str | None
    limit: int


@dataclass(frozen=True)
class OrganisationAccountsKey:
    org_id: str
    after: str | None
    limit: int


@dataclass(frozen=True)
class IdentifierKey:
    kind: str
    value: str
    after: str | None
    limit: int


@dataclass(frozen=True)
class TimelineKey:
    operator_id: str
    day_from: date | None
    day_to: date | None


@dataclass(frozen=True)
class Page:
    rows: list[dict[str, Any]]  # at most limit rows (limit = first + 1: the extra one means "more")
    total: int
    source: str = "graph"  # graph | columnar (identifier lookups the graph has no links for)


class Loaders:
    """One set of loaders per request."""

    def __init__(self, db: RequestDb, settings: Settings, touched: Touched) -> None:
        self.db = db
        self.settings = settings
        self.columnar_dir = settings.columnar_dir
        self.touched = touched
        self.account: DataLoader[str, Row | None] = DataLoader(self._accounts)
        self.account_identifiers: DataLoader[str, list[Row]] = DataLoader(
            self._by_id("api/read_account_identifiers", "account_id")
        )
        self.account_attributions: DataLoader[str, list[Row]] = DataLoader(
            self._by_id("api/read_account_attributions", "account_id")
        )
        self.account_decisions: DataLoader[str, list[Row]] = DataLoader(
            self._by_id("api/read_account_decisions", "account_id")
        )
        self.account_labels: DataLoader[str, list[Row]] = DataLoader(
            self._by_id("api/read_account_labels", "account_id")
        )
        self.operator: DataLoader[str, Row | None] = DataLoader(self._operators)
        self.operator_history: DataLoader[str, list[Row]] = DataLoader(
            self._by_id("api/read_operator_history", "operator_id")
        )
        self.operator_decisions: DataLoader[str, list[Row]] = DataLoader(
            self._by_id("api/read_operator_decisions", "operator_id")
        )
        self.operator_lineage: DataLoader[str, Row | None] = DataLoader(self._lineage)
        self.operator_members: DataLoader[MembersKey, Page] = DataLoader(self._members)
        self.operator_timeline: DataLoader[TimelineKey, list[DailyRow]] = DataLoader(self._timeline)
        self.identifier_accounts: DataLoader[IdentifierKey, Page] = DataLoader(self._identifier_accounts)
        self.card: DataLoader[str, Row | None] = DataLoader(self._cards)
        self.organisation: DataLoader[str, Row | None] = DataLoader(self._organisations)
        self.operator_organisations: DataLoader[str, list[Row]] = DataLoader(
            self._by_id("api/read_operator_organisations", "operator_id")
        )
        self.operator_organisation_decisions: DataLoader[str, list[Row]] = DataLoader(
            self._by_id("api/read_organisation_decisions", "operator_id")
        )
        self.organisation_operators: DataLoader[str, list[Row]] = DataLoader(
            self._by_id("api/read_organisation_operators", "org_id")
        )
        self.organisation_accounts: DataLoader[OrganisationAccountsKey, Page] = DataLoader(self._organisation_accounts)
        self.run: DataLoader[str, Row | None] = DataLoader(self._runs)

    # -- generic ----------------------------------------------------------------------------
    def _by_id(self, statement: str, key: str) -> Callable[[list[str]], Awaitable[list[list[Row]]]]:
        """Statements that return one row per id with its rows collected in ``items``."""

        async def load(ids: list[str]) -> list[list[Row]]:
            rows = await self.db.read(statement, ids=ids)
            found = {r[key]: list(r["items"]) for r in rows}
            return [found.get(i, []) for i in ids]

        return load

    async def _one_each(self, statement: str, key: str, ids: list[str], **params: Any) -> list[Row | None]:
        rows = await self.db.read(statement, ids=ids, **params)
        found = {r[key]: r for r in rows}
        return [found.get(i) for i in ids]

    # -- accounts and operators --------------------------------------------------------------
    async def _accounts(self, ids: list[str]) -> list[Row | None]:
        out = await self._one_each("api/read_accounts", "account_id", ids)
        self.touched.accounts.update(r["account_id"] for r in out if r)
        return out

    async def _operators(self, ids: list[str]) -> list[Row | None]:
        out = await self._one_each("api/read_operators", "operator_id", ids)
        self.touched.operators.update(r["operator_id"] for r in out if r)
        return out

    def prime_operator(self, row: Row) -> None:
        """Rows of a listing already hold what the operator loader would fetch."""
        self.operator.prime(row["operator_id"], row)
        self.touched.operators.add(row["operator_id"])

    def forget_operator(self, operator_id: str) -> None:
        """After a write: the next load reads the operator again."""
        try:
            self.operator.clear(operator_id)
        except KeyError:
            pass

    async def _organisations(self, ids: list[str]) -> list[Row | None]:
        return await self._one_each("api/read_organisations", "org_id", ids)

    async def _lineage(self, ids: list[str]) -> list[Row | None]:
        return await self._one_each("api/read_operator_lineage", "operator_id", ids)

    async def _cards(self, values: list[str]) -> list[Row | None]:
        rows = await self.db.read("api/read_card_details", values=values)
        found = {r["value"]: r for r in rows}
        return [found.get(v) for v in values]

    async def _runs(self, ids: list[str]) -> list[Row | None]:
        return await self._one_each("api/read_runs", "run_id", ids)

    # -- paged ------------------------------------------------------------------------------
    async def _members(self, keys: list[MembersKey]) -> list[Page]:
        results: dict[MembersKey, Page] = {}
        for limit, group in _by_limit(keys).items():
            rows = await self.db.read(
                "api/read_operator_members",
                keys=[{"operator_id": k.operator_id, "after": k.after} for k in group],
                limit=limit,
            )
            found = {(r["operator_id"], r["after"]): r for r in rows}
            for k in group:
                r = found.get((k.operator_id, k.after))
                page = Page(list(r["page"]), int(r["total"])) if r else Page([], 0)
                self.touched.accounts.update(x["account_id"] for x in page.rows)
                results[k] = page
        return [results[k] for k in keys]

    async def _organisation_accounts(self, keys: list[OrganisationAccountsKey]) -> list[Page]:
        """Pages of the accounts of the operators each organisation is asserted to run."""
        results: dict[OrganisationAccountsKey, Page] = {}
        for limit, group in _by_limit(keys).items():
            rows = await self.db.read(
                "api/read_organisation_accounts", keys=[{"org_id": k.org_id, "after": k.after} for k in group], limit=limit
            )
            found = {(r["org_id"], r["after"]): r for r in rows}
            for k in group:
                r = found.get((k.org_id, k.after))
                page = Page(list(r["page"]), int(r["total"])) if r else Page([], 0)
                self.touched.accounts.update(x["account_id"] for x in page.rows)
                self.touched.operators.update(x["operator_id"] for x in page.rows)
                results[k] = page
        return [results[k] for k in keys]

    async def _identifier_accounts(self, keys: list[IdentifierKey]) -> list[Page]:
        """Pages from the graph's links; for identifiers it holds none of (one account's, hubs'),
        from the columnar store's ``account_identifiers``, in the same shape."""
        results: dict[IdentifierKey, Page] = {}
        for limit, group in _by_limit(keys).items():
            rows = await self.db.read(
                "api/read_identifier_accounts",
                keys=[{"kind": k.kind, "value": k.value, "after": k.after} for k in group],
                limit=limit,
            )
            found = {(r["kind"], r["value"], r["after"]): r for r in rows}
            elsewhere: list[IdentifierKey] = []
            for k in group:
                r = found.get((k.kind, k.value, k.after))
                if r is None or r["hub"] or not r["total"]:
                    elsewhere.append(k)
                else:
                    results[k] = Page(list(r["page"]), int(r["total"]))
            results.update(await self._used_elsewhere(elsewhere, limit))
        for page in results.values():
            self.touched.accounts.update(x["account_id"] for x in page.rows)
        return [results[k] for k in keys]

    async def _used_elsewhere(self, keys: list[IdentifierKey], limit: int) -> dict[IdentifierKey, Page]:
        if not keys:
            return {}
        from sybilgraph.ingest.state import state_relation  # ingest's reader: imported when first needed

        relation = state_relation(self.settings, "account_identifiers")
        if relation is None:  # nothing ingested with the per-account table yet
            return {k: Page([], 0, "graph") for k in keys}
        pages = await used_by(relation, [(k.kind, k.value, k.after) for k in keys], limit)
        return {k: Page(rows, total, "columnar") for k, (rows, total) in zip(keys, pages)}

    async def _timeline(self, keys: list[TimelineKey]) -> list[list[DailyRow]]:
        ids = sorted({k.operator_id for k in keys})
        rows = await self.db.read("api/read_operator_member_ids", ids=ids)
        members = {r["operator_id"]: list(r["members"]) for r in rows}
        results: dict[TimelineKey, list[DailyRow]] = {}
        windows: dict[tuple[date | None, date | None], list[TimelineKey]] = defaultdict(list)
        for k in keys:
            windows[(k.day_from, k.day_to)].append(k)
        for (day_from, day_to), group in windows.items():
            wanted = {k.operator_id: members.get(k.operator_id, []) for k in group}
            daily = await daily_activity(self.columnar_dir, wanted, day_from, day_to)
            for k in group:
                results[k] = daily.get(k.operator_id, [])
        return [results[k] for k in keys]


def _by_limit(keys: Sequence[K]) -> dict[int, list[K]]:
    groups: dict[int, list[K]] = defaultdict(list)
    for k in keys:
        groups[k.limit].append(k)  # type: ignore[attr-defined]
    return groups


def parse_json_list(text: str | None) -> list[dict[str, Any]]:
    """Evidence lists are stored as JSON text; a malformed one reads as empty, never as a 500."""
    if not text:
        return []
    try:
        value = json.loads(text)
    except (TypeError, ValueError):
        return []
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def parse_json_object(text: str | None) -> dict[str, Any] | None:
    if not text:
        return None
    try:
        value = json.loads(text)
    except (TypeError, ValueError):
        return None
    return value if isinstance(value, dict) else None
