"""Who belongs to an operator: a Fellegi-Sunter model per operator, fitted on the operator itself.

Pairwise evidence finds groups; whether an account belongs to a group is a question about the
group as a whole. Account ``a`` is compared with group ``g``, always without ``a`` itself
(leave-one-out: members and newcomers are judged alike), on:

* each family of identifiers (``comparisons.IDENTIFIER_COMPARISONS``, template pools included)
  and prompt templates one by one, in three levels: ``a`` uses none of the group's *characteristic* values (used by at least two
  members, and by a larger share of the members than of everybody else); it uses one that the
  group shares with outsiders (members are less than half of its users: a VPN exit, a popular
  tool's tail template); or one the group *owns* (members are at least half of its users: a
  private TLS client, a prompt pool, a card ring);
* behaviour, for groups with enough profiled members: is ``a``'s hour-of-day profile, task mix,
  output/input ratio and creation time inside the range spanned by 90% of the members?

``m`` per level is the share of members there; ``u`` the share of the group's *tied outsiders*
there: the accounts that use a characteristic value of the group without being members. That
null is the right one: the question for an account tied to a group is whether it belongs, given
that it is tied to the group somehow, and the accounts that look like a group for an unrelated
reason (heavy developers on the same automation client, households behind a proxy exit, VPN
users) are exactly those outsiders. The prior is the share of members among tied accounts.

Comparisons are not independent among outsiders: developers who share an operator's automation
client also share its round-the-clock hours and coding mix, so multiplying the three would count
one coincidence three times. The likelihood ratio of an account's whole *pattern* of levels is
therefore estimated jointly: the share of members and of tied outsiders with exactly that
pattern, each an equal mixture with the product of the per-comparison shares (a pattern seen
among the outsiders keeps its weight there; a pattern nobody else has falls back to the product). The per-comparison weights
``log2(m/u)`` are kept to explain a decision; their sum plus the *dependence adjustment* is
the log-odds against the prior. All counts are on the data, leave-one-out.

So a household whose line was one of an operator's proxy exits uses an IP the operator owns (as
do the other households on exits: weak evidence) but none of its cards, templates or schedule,
which every member has (strong evidence against); a developer on the operator's automation
client shares only tail templates of popular tools, where members share an owned prompt pool; a
careful operator's accounts own a TLS client and a template pool no tied outsider uses.

The same model judges a group's members (full run), accounts tied to it by pairwise evidence,
and new accounts (incremental placement).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import duckdb
import numpy as np
import pyarrow as pa

from sybilgraph.attribution.arrays import unique_sorted
from sybilgraph.attribution.profiles import Profiles

__all__ = [
    "TEMPLATE_COMPARISON",
    "BEHAVIOUR_COMPARISONS",
    "BEHAVIOUR_MIN_MEMBERS",
    "IDENTIFIER_LEVELS",
    "MembershipScores",
    "membership_scores",
]

# Below this many members with a profile, a group's behavioural range is not estimated.
BEHAVIOUR_MIN_MEMBERS = 5
# A behaviour agrees when it lies inside the range spanned by this share of the members.
BEHAVIOUR_COVERAGE = 0.9
# At most about this many evaluated (account, group) rows are scored at once (``membership_scores``):
# ~0.6 KB of arrays each while scored; at scale 1.0 there are ~30M rows in all (11-13 GB at once).
CHUNK_ROWS = 2_000_000
# Row blocks of per-row, per-comparison work: small enough that their temporaries stay in cache.
_BLOCK_ROWS = 1 << 15
BEHAVIOUR_COMPARISONS = ("behaviour_hours", "behaviour_task_mix", "behaviour_output_ratio", "behaviour_created")
IDENTIFIER_LEVELS = ("uses none of the group's values", "uses a value the group shares with outsiders", "uses a value the group owns")
TEMPLATE_COMPARISON = "templates"


@dataclass
class MembershipScores:
    """Per evaluated (account, group): membership log-odds (bits), posterior and the
    contribution of each comparison (for evidence and explanations)."""

    table: pa.Table  # aid, gid, member, log_odds, posterior
    comparisons: tuple[str, ...]
    weights: np.ndarray  # (rows, comparisons) bits, log2(m/u) per comparison
    levels: np.ndarray  # (rows, identifier comparisons and templates) 0 none, 1 shared, 2 owned
    dependence: np.ndarray  # (rows,) bits: joint pattern ratio minus the sum of weights


_TIED_SQL = """
-- Identifiers and templates: templates are compared one by one here (a group owns its prompts
-- even when they form no pool).
CREATE OR REPLACE TEMP TABLE mlk AS
SELECT aid, vid, cid::INTEGER AS cid, n FROM lk
UNION ALL
SELECT t.aid, t.vid, $tcid AS cid, tn.n
FROM tpl t JOIN (SELECT vid, count(*)::INTEGER AS n FROM tpl GROUP BY vid) tn USING (vid)
WHERE tn.n >= 2;
CREATE OR REPLACE TEMP TABLE _gsize AS SELECT gid, count(*)::DOUBLE AS size FROM grp GROUP BY gid;
-- Values the group's members use, with how many members and accounts in all use them.
CREATE OR REPLACE TEMP TABLE _gv AS
SELECT g.gid, l.vid, any_value(l.cid) AS cid, any_value(l.n)::DOUBLE AS n, count(*)::DOUBLE AS n_in
FROM mlk l JOIN grp g USING (aid)
GROUP BY g.gid, l.vid;
-- Characteristic values: used by >= 2 members and relatively more by members than by others.
CREATE OR REPLACE TEMP TABLE _char AS
SELECT gv.* FROM _gv gv JOIN _gsize s USING (gid)
WHERE gv.n_in >= 2 AND gv.n_in / s.size > (gv.n - gv.n_in) / greatest($n - s.size, 1);
-- The users of values characteristic of some group (where tied outsiders are found: a fraction
-- of all uses, read once per call by ``_TiedUsers``), and each member's values.
CREATE OR REPLACE TEMP TABLE _cmlk AS SELECT l.aid, l.vid FROM mlk l SEMI JOIN _char c ON l.vid = c.vid;
CREATE OR REPLACE TEMP TABLE _mvals AS SELECT g.aid, g.gid, l.vid FROM grp g JOIN mlk l USING (aid);
"""

# Characteristic values by group and the users of each value (``_TiedUsers``): what a chunk's tied
# outsiders are expanded from.
_CHAR_SQL = "SELECT gid, vid, cid, n, n_in FROM _char ORDER BY gid, vid"
_CHAR_USERS_SQL = "SELECT vid, aid FROM _cmlk ORDER BY vid, aid"

# Per group, an upper bound of its evaluated rows (members, users of its characteristic values,
# candidates; an account using several of its values counts once per value), known before any
# row is materialised: what chunks are cut by.
_ROWS_BOUND_SQL = """
SELECT gid, sum(k)::BIGINT AS k FROM (
    SELECT gid, count(*) AS k FROM grp GROUP BY gid
    UNION ALL SELECT gid, sum(n) AS k FROM _char GROUP BY gid
    UNION ALL SELECT gid, count(*) AS k FROM _cand GROUP BY gid
)
GROUP BY gid ORDER BY gid
"""

# A member's level per comparison: 2 when it uses a characteristic value the group owns (members,
# without the account, are at least half its other users), 1 when it uses one the group shares
# with outsiders, else absent (0). ``own`` is how many of the value's users inside the group are
# the member itself or, when the group was formed by a shared value (value groups), members of its
# own community: an account is judged on what it shares with the rest of the group, never on what
# its own clique (a household, one operator among several on one software stack) shares with
# itself. (A tied outsider's ``own`` is 0: its level is the ``_TiedUsers`` one.)
_MEMBER_LEVELS_SQL = """
WITH used AS (
    SELECT m.aid, c.gid, c.vid, c.cid, c.n, c.n_in
    FROM _mvals m JOIN _char c ON c.gid = m.gid AND c.vid = m.vid
    WHERE m.gid BETWEEN $lo AND $hi
      AND NOT EXISTS (SELECT 1 FROM _excl x WHERE x.gid = c.gid AND x.cid = c.cid)
),
own AS (
    SELECT u.aid, u.gid, u.cid, u.n, u.n_in,
           CASE WHEN cm.comm >= 0 THEN coalesce(gc.k, 0) ELSE 1 END AS own
    FROM used u
    LEFT JOIN _comm cm ON cm.aid = u.aid AND cm.gid = u.gid
    LEFT JOIN _gvc gc ON gc.gid = u.gid AND gc.vid = u.vid AND gc.comm = cm.comm
)
SELECT aid, gid, cid, max(CASE WHEN 2 * (n_in - own) >= n - own THEN 2 ELSE 1 END) AS level
FROM own
WHERE n_in - own >= 1
GROUP BY aid, gid, cid
"""

# Members' values per community, for the leave-community-out counts above.
_COMMUNITY_SQL = """
CREATE OR REPLACE TEMP TABLE _gvc AS
SELECT g.gid, l.vid, cm.comm, count(*)::DOUBLE AS k
FROM mlk l JOIN grp g USING (aid) JOIN _comm cm ON cm.aid = g.aid AND cm.gid = g.gid
WHERE cm.comm >= 0
GROUP BY g.gid, l.vid, cm.comm
"""


def membership_scores(
    con: duckdb.DuckDBPyConnection,
    n_accounts: int,
    groups: pa.Table,
    candidates: pa.Table | None,
    identifier_comparisons: Sequence[str],
    profiles: Profiles | None = None,
    exclude: pa.Table | None = None,
    communities: np.ndarray | None = None,
    keep_from: float | None = None,
) -> MembershipScores:
    """Membership evidence of every member, tied outsider and candidate (aid, gid), sorted by
    (gid, aid).

    ``con`` holds ``lk`` (aid, vid, cid, n) and ``tpl`` (aid, vid) (pairs.build_pair_tables);
    ``groups`` is (aid int32, gid int64); ``identifier_comparisons[cid]`` names comparison
    ``cid`` (templates, compared one by one, come after them); ``profiles`` (aligned with the
    integer ids) adds the behavioural comparisons; ``exclude`` (gid, comparison name) leaves a
    comparison out of a group's judgement: a group formed by one shared value is judged on the
    *other* evidence its accounts share; ``communities`` (a community label per account id, -1
    for none) makes each member of a group leave its whole community out, not only itself.

    ``keep_from``: when given, the rows of non-members whose posterior is below it are left out
    of the result. They are scored first (they are the null every statistic of their group is
    counted on), so every returned row is exactly what it is without ``keep_from``; a caller
    that acts only on accepted rows (an account joins a group when its posterior reaches the
    acceptance threshold) passes that threshold: the tied outsiders a group rejects are most of
    the rows (tens of millions at scale 1.0) and are neither a decision nor its evidence.
    Members are always kept: a member a group rejects is explained by its row.

    Every statistic is per group, so groups are scored in chunks of at most ``CHUNK_ROWS``
    evaluated rows (bounded before they are materialised; a group larger than that is a chunk
    of its own): memory is bounded by the chunk, and the result is the same as in one chunk.
    """
    names_id = [*identifier_comparisons, TEMPLATE_COMPARISON]
    names = names_id + (list(BEHAVIOUR_COMPARISONS) if profiles is not None else [])
    _load_groups(con, n_accounts, groups, candidates, exclude, names_id, communities)
    keys = _Keys.of(con, n_accounts, len(names_id))
    tied = _TiedUsers.of(con)
    behaviour = _Behaviour.of(profiles) if profiles is not None else None
    parts = [
        _keep_rows(_score_chunk(con, keys, tied, lo, hi, names, behaviour), keep_from)
        for lo, hi in _chunk_ranges(con, CHUNK_ROWS)
    ]
    return _concat(parts, names, len(names_id))


@dataclass
class _Keys:
    """Rows as one integer each, ``gid * base + aid`` (sorted by (gid, aid)): the members and the
    candidates; and the (group, comparison) pairs left out, ``gid * n_id + cid``."""

    base: np.int64
    n_id: int
    members: np.ndarray  # sorted, unique
    candidates: np.ndarray
    excluded: np.ndarray

    @classmethod
    def of(cls, con: duckdb.DuckDBPyConnection, n_accounts: int, n_id: int) -> _Keys:
        base = np.int64(n_accounts + 1)

        def keys(sql: str, width: np.int64) -> np.ndarray:
            rows = con.execute(sql).fetchnumpy()
            a, b = (np.asarray(c, dtype=np.int64) for c in rows.values())
            return unique_sorted(a * width + b)

        return cls(
            base=base, n_id=n_id,
            members=keys("SELECT gid, aid FROM grp", base),
            candidates=keys("SELECT gid, aid FROM _cand", base),
            excluded=keys("SELECT gid, cid FROM _excl", np.int64(n_id)),
        )

    def in_groups(self, keys: np.ndarray, lo: int, hi: int) -> np.ndarray:
        return keys[(keys >= lo * self.base) & (keys < (hi + 1) * self.base)]


@dataclass
class _TiedUsers:
    """Each group's characteristic values (sorted by group) and the users of every characteristic
    value (sorted by value, as offsets): a chunk's tied outsiders are the users of its groups'
    values, expanded here in numpy (a join and GROUP BY per chunk in DuckDB took ~13 s of
    membership at scale 1.0)."""

    gid: np.ndarray  # per (group, characteristic value), sorted by gid
    vid: np.ndarray
    cid: np.ndarray
    level: np.ndarray  # the level an account outside the group gets from the value: 2 owned, else 1
    user_vids: np.ndarray  # distinct characteristic values, sorted
    user_start: np.ndarray  # offsets into ``users`` per value of ``user_vids`` (one more at the end)
    users: np.ndarray  # account ids, grouped by value

    @classmethod
    def of(cls, con: duckdb.DuckDBPyConnection) -> _TiedUsers:
        c = con.execute(_CHAR_SQL).fetchnumpy()
        u = con.execute(_CHAR_USERS_SQL).fetchnumpy()
        vids = np.asarray(u["vid"], dtype=np.int64)
        starts = np.flatnonzero(np.r_[True, vids[1:] != vids[:-1]]) if len(vids) else np.zeros(0, dtype=np.int64)
        n, n_in = np.asarray(c["n"], dtype=float), np.asarray(c["n_in"], dtype=float)
        return cls(
            gid=np.asarray(c["gid"], dtype=np.int64), vid=np.asarray(c["vid"], dtype=np.int64),
            cid=np.asarray(c["cid"], dtype=np.int64), level=np.where(2 * n_in >= n, 2, 1).astype(np.int8),
            user_vids=vids[starts], user_start=np.r_[starts, len(vids)], users=np.asarray(u["aid"], dtype=np.int64),
        )

    def in_groups(self, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(aid, gid, cid, level) of every use of a characteristic value of the groups with ids in
        [lo, hi] (an account using several of a group's values of one comparison appears once
        per value)."""
        first, last = np.searchsorted(self.gid, [lo, hi + 1])
        v = np.searchsorted(self.user_vids, self.vid[first:last])
        start, count = self.user_start[v], self.user_start[v + 1] - self.user_start[v]
        ramp = np.arange(int(count.sum())) - np.repeat(np.cumsum(count) - count, count)
        aid = self.users[np.repeat(start, count) + ramp]
        return (aid, np.repeat(self.gid[first:last], count), np.repeat(self.cid[first:last], count),
                np.repeat(self.level[first:last], count))


def _load_groups(
    con: duckdb.DuckDBPyConnection,
    n_accounts: int,
    groups: pa.Table,
    candidates: pa.Table | None,
    exclude: pa.Table | None,
    names_id: Sequence[str],
    communities: np.ndarray | None,
) -> None:
    """The tables every chunk reads: groups, candidates, exclusions, the values compared, each
    group's characteristic values and the members' communities."""
    con.register("_groups", groups)
    con.execute("CREATE OR REPLACE TEMP TABLE grp AS SELECT aid::INTEGER AS aid, gid::BIGINT AS gid FROM _groups")
    con.unregister("_groups")
    cand = candidates if candidates is not None else pa.table({"aid": pa.array([], pa.int32()), "gid": pa.array([], pa.int64())})
    con.register("_cand0", cand)
    con.execute("CREATE OR REPLACE TEMP TABLE _cand AS SELECT aid::INTEGER AS aid, gid::BIGINT AS gid FROM _cand0")
    con.unregister("_cand0")
    excl = exclude if exclude is not None else pa.table({"gid": pa.array([], pa.int64()), "comparison": pa.array([], pa.string())})
    con.register("_excl0", excl)
    con.register("_cmp", pa.table({"comparison": pa.array(list(names_id), pa.string()), "cid": pa.array(range(len(names_id)), pa.int32())}))
    con.execute("CREATE OR REPLACE TEMP TABLE _excl AS SELECT e.gid::BIGINT AS gid, c.cid FROM _excl0 e JOIN _cmp c USING (comparison)")
    con.unregister("_excl0")
    con.unregister("_cmp")
    for statement in _TIED_SQL.split(";"):
        if statement.strip():
            params = {k: v for k, v in {"n": float(n_accounts), "tcid": len(names_id) - 1}.items() if f"${k}" in statement}
            con.execute(statement, params or None)
    comm = communities if communities is not None else np.full(n_accounts, -1, dtype=np.int64)
    con.register("_comm0", pa.table({"aid": pa.array(np.arange(len(comm)), pa.int32()), "comm": pa.array(comm, pa.int64())}))
    con.execute("CREATE OR REPLACE TEMP TABLE _comm AS SELECT g.aid, g.gid, c.comm FROM grp g JOIN _comm0 c USING (aid)")
    con.unregister("_comm0")
    con.execute(_COMMUNITY_SQL)


def _chunk_ranges(con: duckdb.DuckDBPyConnection, max_rows: int) -> list[tuple[int, int]]:
    """Consecutive ranges [lo, hi] of group ids, each bounded to about ``max_rows`` evaluated
    rows (``_ROWS_BOUND_SQL``); a group above the bound is a range of its own."""
    bound = con.execute(_ROWS_BOUND_SQL).fetchnumpy()
    ranges: list[tuple[int, int]] = []
    total = 0
    for g, k in zip(np.asarray(bound["gid"], dtype=np.int64).tolist(), np.asarray(bound["k"], dtype=np.int64).tolist()):
        if ranges and total + k <= max_rows:
            ranges[-1] = (ranges[-1][0], g)
            total += k
        else:
            ranges.append((g, g))
            total = k
    return ranges


def _score_chunk(
    con: duckdb.DuckDBPyConnection,
    keys: _Keys,
    tied: _TiedUsers,
    lo: int,
    hi: int,
    names: Sequence[str],
    behaviour: _Behaviour | None,
) -> MembershipScores:
    """The scores of every row evaluated against the groups with ids in [lo, hi]."""
    aid, gid, member, levels = _evaluated_rows(con, keys, tied, lo, hi)
    n_id = keys.n_id
    groups_u, ginv = np.unique(gid, return_inverse=True)
    # One (rows, comparisons) array each for log2 m and log2 u, filled in place, and the level
    # pattern kept as one integer key per row: a chunk holds millions of rows.
    log_m = np.zeros((len(aid), len(names)))
    log_u = np.zeros((len(aid), len(names)))
    _level_log_probs(levels, member, ginv, len(groups_u), log_m[:, :n_id], log_u[:, :n_id])
    pattern_key = _pattern_key(levels)
    if behaviour is not None:
        b_levels = _behaviour_levels(behaviour, aid, ginv, member, log_m[:, n_id:], log_u[:, n_id:])
        pattern_key = _pattern_key(b_levels, pattern_key)
        del b_levels
    naive_log_m, naive_log_u = log_m.sum(axis=1), log_u.sum(axis=1)
    weights = log_m
    weights -= log_u
    del log_m, log_u

    n_members = np.bincount(ginv, weights=member, minlength=len(groups_u))
    n_outside = np.bincount(ginv, weights=~member, minlength=len(groups_u))
    members_wo = n_members[ginv] - member
    outside_wo = n_outside[ginv] - ~member
    prior = np.log2((members_wo + 0.5) / (outside_wo + 0.5))
    joint = _joint_log_ratio(pattern_key, member, ginv, naive_log_m, naive_log_u, members_wo, outside_wo)
    log_odds = prior + joint
    posterior = 1.0 / (1.0 + np.exp2(-log_odds))
    table = pa.table(
        {
            "aid": pa.array(aid, pa.int32()),
            "gid": pa.array(gid, pa.int64()),
            "member": pa.array(member),
            "log_odds": pa.array(log_odds),
            "posterior": pa.array(posterior),
        }
    )
    return MembershipScores(
        table=table, comparisons=tuple(names), weights=weights, levels=levels, dependence=joint - weights.sum(axis=1)
    )


def _evaluated_rows(
    con: duckdb.DuckDBPyConnection, keys: _Keys, tied: _TiedUsers, lo: int, hi: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Every account evaluated against the groups with ids in [lo, hi], sorted by (gid, aid): their
    members, the users of their characteristic values (tied outsiders) and the candidates; with
    whether it is a member and its level per identifier comparison (0 none, 1 shared, 2 owned).
    An outsider's level of a comparison is the highest its values of the group give it; members'
    own levels discount themselves (``_MEMBER_LEVELS_SQL``)."""
    t_aid, t_gid, t_cid, t_level = tied.in_groups(lo, hi)
    t_key = t_gid * keys.base + t_aid
    members = keys.in_groups(keys.members, lo, hi)
    row_keys, row_of = _unique_inverse(np.concatenate([members, t_key, keys.in_groups(keys.candidates, lo, hi)]))
    member = np.zeros(len(row_keys), dtype=bool)
    member[row_of[: len(members)]] = True
    levels = np.zeros((len(row_keys), keys.n_id), dtype=np.int8)
    rows = row_of[len(members) : len(members) + len(t_key)]
    outsider = ~member[rows] & ~_contains(keys.excluded, t_gid * keys.n_id + t_cid)
    np.maximum.at(levels.reshape(-1), rows[outsider] * keys.n_id + t_cid[outsider], t_level[outsider])
    del t_aid, t_gid, t_cid, t_level, t_key, rows, outsider
    mine = con.execute(_MEMBER_LEVELS_SQL, {"lo": lo, "hi": hi}).fetchnumpy()
    rows = np.searchsorted(row_keys, np.asarray(mine["gid"], dtype=np.int64) * keys.base + np.asarray(mine["aid"], dtype=np.int64))
    levels[rows, np.asarray(mine["cid"], dtype=np.int64)] = np.asarray(mine["level"], dtype=np.int8)
    return row_keys % keys.base, row_keys // keys.base, member, levels


def _unique_inverse(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The sorted distinct values of ``x`` and each element's index among them. From one argsort
    (not np.unique, whose hashing took ~3 s a chunk at scale 1.0 in numpy 2, nor a sort and a
    binary search of every element: twice the time)."""
    order = np.argsort(x)
    s = x[order]
    new = np.empty(len(s), dtype=bool)
    new[:1] = True
    np.not_equal(s[1:], s[:-1], out=new[1:])
    inverse = np.empty(len(x), dtype=np.int64)
    inverse[order] = np.cumsum(new) - 1
    return s[new], inverse


def _contains(sorted_keys: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Whether each of ``x`` is in ``sorted_keys`` (sorted, unique)."""
    if len(sorted_keys) == 0:
        return np.zeros(len(x), dtype=bool)
    pos = np.minimum(np.searchsorted(sorted_keys, x), len(sorted_keys) - 1)
    return sorted_keys[pos] == x


def _keep_rows(scores: MembershipScores, keep_from: float | None) -> MembershipScores:
    """Members and the rows whose posterior reaches ``keep_from`` (all rows when None)."""
    if keep_from is None:
        return scores
    t = scores.table
    keep = np.asarray(t.column("member").to_numpy(zero_copy_only=False), dtype=bool) | (t.column("posterior").to_numpy() >= keep_from)
    return MembershipScores(
        table=t.filter(pa.array(keep)), comparisons=scores.comparisons, weights=scores.weights[keep],
        levels=scores.levels[keep], dependence=scores.dependence[keep],
    )


def _concat(parts: Sequence[MembershipScores], names: Sequence[str], n_id: int) -> MembershipScores:
    """The chunks' scores as one (chunks are consecutive group ranges: still sorted by (gid, aid))."""
    if len(parts) == 1:
        return parts[0]
    empty = pa.schema([("aid", pa.int32()), ("gid", pa.int64()), ("member", pa.bool_()), ("log_odds", pa.float64()), ("posterior", pa.float64())])
    return MembershipScores(
        table=pa.concat_tables([p.table for p in parts]) if parts else empty.empty_table(),
        comparisons=tuple(names),
        weights=np.concatenate([p.weights for p in parts]) if parts else np.zeros((0, len(names))),
        levels=np.concatenate([p.levels for p in parts]) if parts else np.zeros((0, n_id), dtype=np.int8),
        dependence=np.concatenate([p.dependence for p in parts]) if parts else np.zeros(0),
    )


def _pattern_key(levels: np.ndarray, key: np.ndarray | None = None) -> np.ndarray:
    """Each row's levels (-1..2 per comparison) as one integer, base 4, appended to ``key``."""
    key = np.zeros(len(levels), dtype=np.int64) if key is None else key
    for j in range(levels.shape[1]):
        key = key * 4 + (levels[:, j] + 1)  # levels -1..2
    return key


def _joint_log_ratio(
    key: np.ndarray,
    member: np.ndarray,
    ginv: np.ndarray,
    naive_log_m: np.ndarray,
    naive_log_u: np.ndarray,
    members_wo: np.ndarray,
    outside_wo: np.ndarray,
) -> np.ndarray:
    """log2 P(pattern | member) / P(pattern | tied outsider), from exact pattern counts in the
    group (without the row itself), smoothed towards the per-comparison product by one
    pseudo-account. ``key``: each row's level pattern (``_pattern_key``)."""
    full = ginv.astype(np.int64) * (1 << 40) + key
    order = np.argsort(full)  # counts per pattern: the order among equal keys does not matter
    sorted_full = full[order]
    starts = np.flatnonzero(np.r_[True, sorted_full[1:] != sorted_full[:-1]])
    seg = np.repeat(np.arange(len(starts)), np.diff(np.r_[starts, len(full)]))
    cnt_in = np.bincount(seg, weights=member[order])
    cnt_out = np.bincount(seg, weights=~member[order])
    k_in = np.empty(len(full))
    k_out = np.empty(len(full))
    k_in[order] = cnt_in[seg] - member[order]
    k_out[order] = cnt_out[seg] - ~member[order]
    # An equal mixture of the exact-pattern share and the per-comparison product: a pattern seen
    # among the outsiders keeps its empirical weight, one seen nowhere falls back to the product.
    m = 0.5 * (k_in / np.maximum(members_wo, 1.0) + np.exp2(naive_log_m))
    u = 0.5 * (k_out / np.maximum(outside_wo, 1.0) + np.exp2(naive_log_u))
    return np.log2(np.maximum(m, 1e-300)) - np.log2(np.maximum(u, 1e-300))


def _level_log_probs(
    levels: np.ndarray, member: np.ndarray, ginv: np.ndarray, n_groups: int, out_m: np.ndarray, out_u: np.ndarray
) -> None:
    """log2 m and log2 u of each row's level per comparison, into ``out_m`` and ``out_u``; m over
    members, u over tied outsiders, each without the row's own account."""
    n_levels = len(IDENTIFIER_LEVELS)
    n_cmp = levels.shape[1]
    n_members = np.bincount(ginv, weights=member, minlength=n_groups)
    n_outside = np.bincount(ginv, weights=~member, minlength=n_groups)
    # Each row's (comparison, group, level, member or not) cell as one integer per comparison,
    # row-major like ``levels`` and the outputs (comparison by comparison, the columns were
    # strided reads and writes of arrays of millions of rows), in blocks of rows that stay in
    # cache; one count over all cells.
    size = n_cmp * n_groups * n_levels * 2
    offset = np.arange(n_cmp, dtype=np.int64) * (n_groups * n_levels * 2)
    row_cell = ginv * (n_levels * 2) + member

    def cells(block: slice) -> np.ndarray:
        cell = offset + row_cell[block, None]
        cell += levels[block] * np.int8(2)
        return cell

    blocks = [slice(i, i + _BLOCK_ROWS) for i in range(0, len(levels), _BLOCK_ROWS)]
    counts = np.zeros(size, dtype=np.int64)
    for block in blocks:
        counts += np.bincount(cells(block).reshape(-1), minlength=size)
    counts = counts.reshape(n_cmp, n_groups, n_levels, 2)
    cnt_in, cnt_out = counts[..., 1].astype(float), counts[..., 0].astype(float)
    own = np.array([False, True])  # whether the row itself is a member (counted in the member cells)
    # Every row of one (comparison, group, level, member or not) has the same m and u: computed
    # once per cell and gathered (the same arithmetic as per row, without a log per row and
    # comparison). Cells no row falls in may be invalid (a count of -1); they are never gathered.
    with np.errstate(invalid="ignore", divide="ignore"):
        m = np.log2((cnt_in[..., None] - own + 0.5) / (n_members[None, :, None, None] - own + 0.5 * n_levels)).reshape(-1)
        u = np.log2((cnt_out[..., None] - ~own + 0.5) / (n_outside[None, :, None, None] - ~own + 0.5 * n_levels)).reshape(-1)
    for block in blocks:
        cell = cells(block)
        out_m[block] = np.take(m, cell)
        out_u[block] = np.take(u, cell)


@dataclass
class _Behaviour:
    """The profiles as the behavioural comparisons read them, prepared once per call: each
    profile vector with NaN as 0 and whether the account has one (tens of millions of rows read
    them, an account once per group it is tied to)."""

    profiles: Profiles
    hod0: np.ndarray
    hod_known: np.ndarray
    cat0: np.ndarray
    cat_known: np.ndarray

    @classmethod
    def of(cls, p: Profiles) -> _Behaviour:
        return cls(
            profiles=p, hod0=np.nan_to_num(p.hod), hod_known=~np.isnan(p.hod).any(axis=1),
            cat0=np.nan_to_num(p.cat), cat_known=~np.isnan(p.cat).any(axis=1),
        )


def _behaviour_levels(
    b: _Behaviour, aid: np.ndarray, ginv: np.ndarray, member: np.ndarray, out_m: np.ndarray, out_u: np.ndarray
) -> np.ndarray:
    """Per row (rows sorted by group): inside the group's behavioural range (hours, task mix,
    output ratio, creation)? Level 1 inside, 0 outside, -1 not comparable (or too few profiled
    members); ``m`` is the coverage of the range, ``u`` the share of tied outsiders inside it.
    Returns the levels and writes log2 m and log2 u into ``out_m`` and ``out_u`` (zeros), leaving
    not comparable rows 0."""
    p = b.profiles
    lv = np.full((len(aid), len(BEHAVIOUR_COMPARISONS)), -1, dtype=np.int8)
    bounds = np.flatnonzero(np.diff(ginv)) + 1
    for start, end in zip(np.r_[0, bounds].tolist(), np.r_[bounds, len(ginv)].tolist()):
        if end == start:
            continue
        rows = slice(start, end)  # one group's rows
        accounts = aid[rows]
        ms = accounts[member[rows]]
        outside = ~member[rows]
        if len(ms) < BEHAVIOUR_MIN_MEMBERS or not outside.any():
            continue
        for j, check in enumerate(
            (
                _cosine_check(p.hod, b.hod0, b.hod_known, ms),
                _cosine_check(p.cat, b.cat0, b.cat_known, ms),
                _range_check(p.log_ratio, ms),
                _range_check(p.created, ms),
            )
        ):
            if check is None:
                continue
            ok, known = check(accounts)
            k_out = float((ok & known & outside).sum())
            n_out = float((known & outside).sum())
            u = (k_out + 0.5) / (n_out + 1.0)
            m = BEHAVIOUR_COVERAGE
            # 0 not comparable, 1 outside the range, 2 inside: each output is one lookup.
            state = known.astype(np.int8)
            state += ok & known
            lv[rows, j] = state - np.int8(1)
            out_m[rows, j] = np.array([0.0, np.log2(1 - m), np.log2(m)])[state]
            out_u[rows, j] = np.array([0.0, np.log2(max(1 - u, 1e-9)), np.log2(u)])[state]
    return lv


def _cosine_check(profiles: np.ndarray, zeroed: np.ndarray, known: np.ndarray, members: np.ndarray):  # noqa: ANN202 - a closure
    """``zeroed``: ``profiles`` with NaN as 0; ``known``: rows without NaN."""
    prof = profiles[members]
    prof = prof[known[members]]
    if len(prof) < BEHAVIOUR_MIN_MEMBERS:
        return None
    centre = prof.mean(axis=0)
    centre /= max(np.linalg.norm(centre), 1e-12)
    threshold = float(np.quantile(prof @ centre, 1 - BEHAVIOUR_COVERAGE))

    def check(accounts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        ok = known[accounts]
        # np.take, not fancy indexing: the same rows, copied ~2.5x faster (tens of millions of
        # (account, group) rows read a profile).
        sim = np.where(ok, np.take(zeroed, accounts, axis=0) @ centre, -1.0)
        return ok & (sim >= threshold), ok

    return check


def _range_check(values: np.ndarray, members: np.ndarray):  # noqa: ANN202 - a closure
    v = values[members]
    v = v[~np.isnan(v)]
    if len(v) < BEHAVIOUR_MIN_MEMBERS:
        return None
    tail = (1 - BEHAVIOUR_COVERAGE) / 2
    lo, hi = float(np.quantile(v, tail)), float(np.quantile(v, 1 - tail))

    def check(accounts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x = values[accounts]
        ok = ~np.isnan(x)
        return ok & (x >= lo) & (x <= hi), ok

    return check
