"""The rows of a rehearsal: a delivery's graph writes, run on a freshly started server and rolled back.

Why: the bulk import (``bulk_import.py``) restarts Neo4j, and a fresh JVM runs the write path
interpreted while HotSpot's tiered compilation (C1, then C2 for what stays hot) compiles it, and
plans every statement anew (Cypher's plan cache lives in memory). The first delivery after the
import paid for all of it: at scale 0.2 its graph write took 5.6-7.8 s against 1.5-2.5 s for the
same writes a moment later, its JVM spending 8.4-9.9 s of CPU (4.9-5.6 s of it in the compiler
threads) against 1.5-3.2 s, while reading at most 100 KB from disk; a restart without an import
cost the same (docs/benchmarks.md, "The first delivery after a bulk import"). Method: the bulk
load runs every write and delete statement of a delivery once, on a sample of the rows it has
just imported, in one transaction that is rolled back (``sync.rehearse_sync``): nothing reaches
the store, and the statements are planned and their operators compiled before a delivery needs
them. Its time is the bulk load's own phase (``warm_up``, 4.0-4.1 s at scales 0.2 and 1.0); the
first delivery's graph write then took 0.58-0.64x main's at 0.2 and 0.74x at 1.0, where what is
left is compilation that only the delivery's own, larger work triggers.

This module is the pure part: which rows, under which keys.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["MARK", "Rehearsal", "rehearsal"]

# Put before the key of everything a rehearsal creates. Whatever a stored key holds, the
# rehearsal is rolled back: a collision would change nothing either (the mark only keeps its new
# rows apart from the stored ones).
MARK = "\x00rehearsal:"


@dataclass(frozen=True)
class Rehearsal:
    """Rows to write (per graph table), then the rows to delete again."""

    upserts: dict[str, pa.Table]
    deletes: dict[str, pa.Table]

    @property
    def rows(self) -> int:
        return sum(t.num_rows for t in self.upserts.values())


def rehearsal(tables: dict[str, pa.Table], accounts: int, few: int = 5) -> Rehearsal:
    """The first ``accounts`` accounts of the graph ``tables`` with everything they link to.

    Their links, the identifiers those name, the subnets of their IPs and their labels, plus the
    accounts of the first ``few`` labels (few accounts carry one) and ``few`` organisations. The
    accounts, labels and organisations are new (keys marked with ``MARK``), and so is every other
    identifier; the others keep their keys, so the rehearsal also links to stored, shared nodes
    (a delivery's accounts mostly use identifiers the graph holds, some of them dense, whose
    paths differ from a new node's: measured, a rehearsal onto new identifiers only left a
    template's links as slow as on the cold server). The deletes remove the rows again, the
    stored identifiers' nodes excepted (a rehearsal deletes only what it created).
    """
    labelled = tables["labels"].slice(0, few).column("account_id")
    wanted = pa.concat_arrays([tables["accounts"].slice(0, accounts).column("account_id").combine_chunks(),
                               labelled.combine_chunks().cast(tables["accounts"].schema.field("account_id").type)])
    chosen = _rows_with(tables["accounts"], "account_id", pc.unique(wanted))
    ids = chosen.column("account_id").combine_chunks()
    links = _rows_with(tables["links"], "account_id", ids)
    identifiers = _used_identifiers(tables["identifiers"], links)
    # Every other identifier new: a kind's rows alternate, so each kind has both.
    new = pc.equal(pc.bit_wise_and(pa.array(range(identifiers.num_rows), pa.int64()), 1), 0)
    new_values = pc.unique(_kind_value(identifiers.filter(new)).combine_chunks())
    ips = identifiers.filter(pc.equal(identifiers["kind"], "ip")).column("value").combine_chunks()
    new_ips = identifiers.filter(pc.and_(new, pc.equal(identifiers["kind"], "ip"))).column("value").combine_chunks()
    subnets = _rows_with(tables["ip_subnets"], "ip", ips)
    upserts = {
        "accounts": _marked(chosen, ("account_id",)),
        "identifiers": _marked(identifiers, ("value",), new),
        "links": _marked(_marked(links, ("account_id",)), ("value",), pc.is_in(_kind_value(links), value_set=new_values)),
        # A new IP hangs under a new subnet; a stored one under its own.
        "ip_subnets": _marked(subnets, ("ip", "subnet"), pc.is_in(subnets["ip"], value_set=new_ips)),
        "organisations": _marked(tables["organisations"].slice(0, few), ("org_id",)),
        "labels": _marked(_rows_with(tables["labels"], "account_id", ids), ("account_id", "operator_label")),
    }
    # Deleted whole (GraphWriter.delete takes the key columns), stored identifiers' nodes excepted.
    deletes = {**upserts, "identifiers": upserts["identifiers"].filter(new)}
    return Rehearsal(upserts, deletes)


def _rows_with(table: pa.Table, column: str, values: pa.Array) -> pa.Table:
    return table.filter(pc.is_in(table[column], value_set=values))


def _used_identifiers(identifiers: pa.Table, links: pa.Table) -> pa.Table:
    """The identifier rows ``links`` point at (kind and value)."""
    used = pc.unique(_kind_value(links).combine_chunks())
    return identifiers.filter(pc.is_in(_kind_value(identifiers), value_set=used))


def _kind_value(table: pa.Table) -> pa.ChunkedArray:
    # The unit separator occurs in no kind name: (kind, value) pairs stay apart.
    return pc.binary_join_element_wise(table["kind"], table["value"], "\x1f")


def _marked(table: pa.Table, columns: tuple[str, ...], rows: pa.Array | pa.ChunkedArray | None = None) -> pa.Table:
    """``columns`` with ``MARK`` before every value, or only in ``rows`` (a mask)."""
    for column in columns:
        values = table[column]
        marked = pc.binary_join_element_wise(pa.scalar(MARK, values.type), values, "")
        if rows is not None:
            marked = pc.if_else(rows, marked, values)
        table = table.set_column(table.schema.get_field_index(column), column, marked)
    return table
