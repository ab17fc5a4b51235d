"""A drawing of what ties an operator's accounts together, summarised so it reads at any size.

Drawing every member and every identifier gives a hairball for an operator of thousands. The
summary works in three steps:

1. **Identifiers**: the strongest shared identifiers (attribution's evidence order); identifiers
   of one kind used by nearly the same members (Jaccard >= 0.7: a pool of prompt templates, a
   proxy range) become one node, "7 prompt templates".
2. **Members**: grouped by *which* identifier nodes they use; each set becomes one node sized by
   its number of accounts ("412"), the smallest sets folded into one. Small operators keep one
   node per account.
3. **Layout**: a two-row (bipartite) drawing, identifiers above and member groups below, ordered
   by the barycentre heuristic (Sugiyama et al. 1981) so lines cross little; no randomness, so
   the same case gives the same picture.

Members none of the kept identifiers touch are counted in the caption, not drawn.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from sybilgraph.charts import Chart, figure, to_chart
from sybilgraph.report.model import IdentifierRow

__all__ = ["EvidenceGraph", "IdentifierNode", "KIND_COLOURS", "KIND_NAMES", "draw_evidence_graph", "summarise"]

# The Bloom perspective's category colours, so the drawing and Bloom agree.
KIND_COLOURS = {
    "card": "#8DCC93", "ip": "#57C7E3", "subnet": "#2F8FAB", "device": "#C990C0", "tls": "#D9C8AE",
    "template": "#F79767", "email_domain": "#ECB5C9", "user_agent": "#B3B3B3", "bin": "#B5D99C",
    "api_key": "#F2C94C", "network_owner": "#6FA8DC",
}
KIND_NAMES = {"card": "card", "ip": "IP", "subnet": "subnet", "device": "device", "tls": "TLS client",
              "template": "prompt template", "email_domain": "e-mail domain", "user_agent": "user agent",
              "bin": "card BIN", "api_key": "API key", "network_owner": "network owner"}
KIND_PLURALS = {"card": "cards", "ip": "IPs", "subnet": "subnets", "device": "devices", "tls": "TLS clients",
                "template": "prompt templates", "email_domain": "e-mail domains", "user_agent": "user agents",
                "bin": "card BINs", "api_key": "API keys", "network_owner": "network owners"}
SAME_POOL = 0.7  # Jaccard overlap of member sets above which identifiers of one kind are drawn as one node


@dataclass(frozen=True)
class IdentifierNode:
    kind: str
    rows: tuple[IdentifierRow, ...]  # the identifiers this node stands for, strongest first
    members: frozenset[str]

    @property
    def label(self) -> str:
        if len(self.rows) == 1:
            shown = self.rows[0].shown.replace(" · #", "\n#")  # a masked card: BIN and last 4, then its hash
            return f"{KIND_NAMES.get(self.kind, self.kind)} · {len(self.members):,} members\n{_short(shown, 40)}"
        return f"{len(self.rows)} {KIND_PLURALS.get(self.kind, self.kind)}\n{len(self.members):,} members"

    @property
    def evidence(self) -> float:
        return sum(r.evidence for r in self.rows)


@dataclass(frozen=True)
class EvidenceGraph:
    identifiers: tuple[IdentifierNode, ...]  # strongest first
    groups: tuple[tuple[frozenset[int], int], ...]  # (identifier nodes used, members), largest first
    single_accounts: tuple[str | None, ...]  # per group: the account id when drawn one node per account
    untied: int  # members none of the kept identifiers touch
    other_groups: int  # member sets folded into the last group node


def _jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


def _pool(rows: Sequence[IdentifierRow], max_nodes: int) -> tuple[IdentifierNode, ...]:
    """Identifiers of one kind used by nearly the same members become one node; strongest first."""
    nodes: list[list[IdentifierRow]] = []
    for row in rows:  # rows arrive strongest first
        home = next((n for n in nodes if n[0].kind == row.kind and _jaccard(n[0].members, row.members) >= SAME_POOL), None)
        if home is not None:
            home.append(row)
        else:
            nodes.append([row])
    built = [IdentifierNode(n[0].kind, tuple(n), frozenset().union(*(r.members for r in n))) for n in nodes]
    built.sort(key=lambda n: -n.evidence)
    return tuple(built[:max_nodes])


def summarise(
    members_total: int, identifiers: Sequence[IdentifierRow], max_nodes: int = 8,
    max_groups: int = 14, per_account_up_to: int = 12,
) -> EvidenceGraph:
    """Identifier nodes, and members grouped by the set of them they use; the smallest sets folded."""
    kept = _pool(identifiers, max_nodes)
    tied = sorted(frozenset().union(*(node.members for node in kept))) if kept else []
    signature = {a: frozenset(i for i, node in enumerate(kept) if a in node.members) for a in tied}
    untied = max(members_total - len(tied), 0)
    if len(tied) <= per_account_up_to:
        ordered = sorted(tied, key=lambda a: (-len(signature[a]), a))
        return EvidenceGraph(kept, tuple((signature[a], 1) for a in ordered), tuple(ordered), untied, 0)
    sizes = Counter(signature.values())
    ranked = sorted(sizes.items(), key=lambda kv: (-kv[1], sorted(kv[0])))
    other = 0
    if len(ranked) > max_groups:
        head, tail = ranked[: max_groups - 1], ranked[max_groups - 1:]
        ranked = [*head, (frozenset().union(*(s for s, _ in tail)), sum(n for _, n in tail))]
        other = len(tail)
    return EvidenceGraph(kept, tuple(ranked), tuple(None for _ in ranked), untied, other)


def _short(text: str, n: int = 22) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def _accounts(n: int) -> str:
    return f"{n:,} account" if n == 1 else f"{n:,} accounts"


def two_row_layout(g: EvidenceGraph, sweeps: int = 6) -> dict[tuple[str, int], tuple[float, float]]:
    """Identifiers on the top row, member groups on the bottom row, ordered by barycentres."""
    neighbours: dict[tuple[str, int], list[tuple[str, int]]] = {("id", i): [] for i in range(len(g.identifiers))}
    for j, (used, _) in enumerate(g.groups):
        neighbours[("group", j)] = [("id", i) for i in sorted(used)]
        for i in used:
            neighbours[("id", i)].append(("group", j))
    top = [("id", i) for i in range(len(g.identifiers))]
    bottom = [("group", j) for j in range(len(g.groups))]

    def spread(row: list[tuple[str, int]]) -> dict[tuple[str, int], float]:
        return {node: (k + 0.5) / len(row) for k, node in enumerate(row)}

    def barycentre(node: tuple[str, int], x: dict[tuple[str, int], float]) -> float:
        near = neighbours[node]
        return sum(x[m] for m in near) / len(near) if near else 2.0

    for _ in range(sweeps):
        x_top = spread(top)
        bottom.sort(key=lambda n: (barycentre(n, x_top), n))
        x_bottom = spread(bottom)
        top.sort(key=lambda n: (barycentre(n, x_bottom), n))
    x_top, x_bottom = spread(top), spread(bottom)
    return {**{n: (x, 1.0) for n, x in x_top.items()}, **{n: (x, 0.0) for n, x in x_bottom.items()}}


def draw_evidence_graph(g: EvidenceGraph, operator_id: str, flagged: bool, members_total: int) -> Chart | None:
    if not g.identifiers or not g.groups:
        return None
    pos = two_row_layout(g)
    fig = figure(7.6, 4.4)
    ax = fig.add_subplot()
    ax.set_axis_off()
    biggest = max(n for _, n in g.groups)
    for j, (used, n) in enumerate(g.groups):
        x1, y1 = pos[("group", j)]
        for i in used:
            x0, y0 = pos[("id", i)]
            ax.plot([x0, x1], [y0, y1], color="#9AA1AC", zorder=1, solid_capstyle="round",
                    linewidth=0.4 + 2.4 * math.log1p(n) / math.log1p(biggest), alpha=0.8)
    member_colour = "#E0393E" if flagged else "#FFC454"
    for j, (_used, n) in enumerate(g.groups):
        x, y = pos[("group", j)]
        area = 60 + 1100 * n / biggest
        ax.scatter([x], [y], s=area, color=member_colour, edgecolors="#7a1f22", linewidths=0.6, zorder=3)
        account = g.single_accounts[j]
        folded = bool(g.other_groups) and j == len(g.groups) - 1
        if account:
            ax.annotate(_short(account, 20), (x, y), xytext=(0, -10), textcoords="offset points", ha="center",
                        va="top", fontsize=6, rotation=30, zorder=5)
        else:
            ax.annotate(f"{n:,}" + ("\nother" if folded else ""), (x, y), xytext=(0, -(math.sqrt(area) / 2 + 3)),
                        textcoords="offset points", ha="center", va="top", fontsize=7, zorder=5)
    for i, node in enumerate(g.identifiers):
        x, y = pos[("id", i)]
        ax.scatter([x], [y], s=170 if len(node.rows) == 1 else 300, marker="s", color=KIND_COLOURS.get(node.kind, "#A5ABB6"),
                   edgecolors="#333333", linewidths=0.6, zorder=4)
        lift = 10 + (14 if i % 2 else 0)  # neighbours' labels at two heights: they do not overlap
        ax.annotate(node.label, (x, y), xytext=(0, lift), textcoords="offset points", ha="center", va="bottom",
                    fontsize=6.5, zorder=6, bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "#cccccc", "lw": 0.4})
    kinds = sorted({node.kind for node in g.identifiers})
    handles = [ax.scatter([], [], s=50, marker="s", color=KIND_COLOURS.get(k, "#A5ABB6"), edgecolors="#333333",
                          label=KIND_NAMES.get(k, k)) for k in kinds]
    handles.append(ax.scatter([], [], s=50, color=member_colour, edgecolors="#7a1f22",
                              label="accounts using the same identifiers (number below)"))
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.02), ncols=min(len(handles), 4),
              frameon=False, fontsize=7)
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(-0.35, 1.45)
    title = f"Evidence graph of {operator_id}"
    return to_chart(fig, key="evidence-graph", title=title, alt=_alt(g, members_total))


def _alt(g: EvidenceGraph, members_total: int) -> str:
    drawn = sum(n for _, n in g.groups)
    nodes = "; ".join(node.label.replace("\n", ", ") for node in g.identifiers[:4])
    grouping = ("one node per account" if any(g.single_accounts)
                else f"{len(g.groups)} groups of accounts that use the same identifiers")
    text = (f"{drawn:,} of {members_total:,} member accounts, drawn as {grouping}, linked to "
            f"{len(g.identifiers)} identifier nodes (strongest first: {nodes}).")
    if g.untied:
        text += f" {g.untied:,} members use none of these identifiers and are not drawn."
    if g.other_groups:
        text += f" The {g.other_groups} smallest sets of accounts are folded into the node marked other."
    return text
