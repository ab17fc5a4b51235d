"""The local Neo4j + GDS is real: versions, GDS procedures, a clean stop."""

from __future__ import annotations

import pytest

from sybilgraph.db.session import Database

pytestmark = pytest.mark.integration

REQUIRED_PROCEDURES = (
    "gds.wcc.stream",
    "gds.louvain.stream",
    "gds.leiden.stream",
    "gds.nodeSimilarity.stream",
    "gds.labelPropagation.stream",
    "gds.graph.project",
)


def test_versions_are_the_pinned_lts_and_gds(session_db: Database) -> None:
    v = session_db.versions()
    assert v.neo4j.startswith("5.26.")
    assert v.gds is not None and v.gds.startswith("2.13")


def test_required_gds_procedures_are_registered(session_db: Database) -> None:
    with session_db.session() as s:
        names = {r["name"] for r in s.run("SHOW PROCEDURES YIELD name WHERE name STARTS WITH 'gds.' RETURN name")}
    missing = [p for p in REQUIRED_PROCEDURES if p not in names]
    assert not missing


def test_gds_algorithms_run_through_the_python_client(db: Database) -> None:
    with db.session() as s:
        s.run(
            "UNWIND range(0, 7) AS i CREATE (:T {i: i})"
        ).consume()
        s.run(
            "MATCH (a:T), (b:T) WHERE a.i < b.i AND (a.i < 4) = (b.i < 4) CREATE (a)-[:R {w: 1.0}]->(b)"
        ).consume()
    gds = db.gds()
    with gds.graph.project.native(
        "t_tiny", "T", {"R": {"orientation": "UNDIRECTED", "properties": "w"}}
    ) as g:
        streams = {
            "wcc": gds.wcc.stream(g, concurrency=1),
            "louvain": gds.louvain.stream(g, concurrency=1),
            "leiden": gds.leiden.stream(g, random_seed=7, concurrency=1, relationship_weight_property="w"),
            "lpa": gds.label_propagation.stream(g, concurrency=1),
        }
        sim = gds.node_similarity.stream(g, top_k=3, concurrency=1)
        assert gds.graph.exists("t_tiny")
    assert not gds.graph.exists("t_tiny"), "the projection is dropped when its block ends"
    for name, frame in streams.items():
        col = "componentId" if name == "wcc" else "communityId"
        nodes = gds.util.as_nodes(frame["nodeId"].tolist())
        part: dict[int, set[int]] = {}
        for node, c in zip(nodes, frame[col].tolist()):
            part.setdefault(c, set()).add(node["i"])
        assert sorted(sorted(v) for v in part.values()) == [[0, 1, 2, 3], [4, 5, 6, 7]], name
    assert len(sim) > 0 and sim["similarity"].between(0, 1).all()
