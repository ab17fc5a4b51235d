"""The organisation step inside attribution runs, against the real Neo4j: hypotheses written and
promoted with the run, the export's organisation_id, analysts' decisions honoured by later runs."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from sybilgraph.attribution import read_export, run_attribution
from sybilgraph.db.admin import reset
from sybilgraph.db.session import Database
from sybilgraph.evaluate.command import load_truth
from sybilgraph.evaluate.metrics import organisation_metrics
from sybilgraph.ingest import ingest_bundle

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def drawn_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A drawn world (scale 0.01, seed 3): four operators of one organisation, two of which left
    a trail (a device, a cloud tenancy IP) and two only investigators' labels naming it."""
    from sybilgraph.generate import generate_bundle

    out = tmp_path_factory.mktemp("drawn") / "b"
    generate_bundle(out, scale=0.01, seed=3, tradecraft="random")
    return out


@pytest.fixture(scope="module")
def attributed(session_db: Database, drawn_bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    db = Database(session_db.settings.model_copy(update={"home": tmp_path_factory.mktemp("orgs-home")}), driver=session_db.driver)
    reset(db)
    ingest_bundle(drawn_bundle, db.settings, db)
    yield db


def _hypotheses(db: Database, run_id: str) -> list[dict]:
    return db.read_raw(
        "MATCH (o:Operator)-[h:LIKELY_RUN_BY {run_id: $run_id}]->(g:Organisation) "
        "RETURN o.operator_id AS operator_id, g.org_id AS org_id, g.confirmed AS confirmed, h.rank AS rank, "
        "h.asserted AS asserted, h.decision AS decision, h.score AS score, h.evidence_json AS evidence_json",
        run_id=run_id,
    )


def test_a_run_writes_ranked_hypotheses_with_evidence_and_the_export_names_the_asserted_organisation(
    attributed: Database, drawn_bundle: Path
) -> None:
    result = run_attribution(attributed)
    assert "operators.organisations" in result.timings_s
    hyps = _hypotheses(attributed, result.run_id)
    assert hyps and result.counts["organisation_hypotheses"] == len(hyps)
    for h in hyps:
        evidence = json.loads(h["evidence_json"])
        assert h["score"] > 0 and evidence
        assert all(e["accounts"] and e["identifiers"] for e in evidence)  # which accounts, which identifiers
    asserted = {h["operator_id"]: h["org_id"] for h in hyps if h["asserted"]}
    assert all(h["rank"] == 1 for h in hyps if h["asserted"])
    export = read_export(attributed).to_pandas()
    assert set(export.columns) >= {"organisation_id"}
    for op, org in export.groupby("operator_id")["organisation_id"].first().items():
        assert org == asserted.get(op, "")  # empty when unattributed

    truth, labels = load_truth(drawn_bundle)
    manifest = json.loads((drawn_bundle / "generator.json").read_text())["operators"]
    current = attributed.read("attribution/read_organisation_hypotheses")
    names = {h["org_id"]: h["name"] for h in current}
    m = organisation_metrics(export, truth, manifest, current, labels, names)
    assert m.n_trail >= 2 and m.n_trail_correct >= 2, m.model_dump_json(indent=1)
    assert m.precision == 1.0 and m.n_decoy_top == 0


def test_decisions_are_honoured_by_the_next_run(attributed: Database) -> None:
    first = run_attribution(attributed)
    hyps = _hypotheses(attributed, first.run_id)
    asserted = next(h for h in hyps if h["asserted"])
    other_op = next(h["operator_id"] for h in hyps if h["operator_id"] != asserted["operator_id"])
    for op, org, decision in ((asserted["operator_id"], asserted["org_id"], "rejected"),
                              (other_op, "Analyst Named Ltd", "confirmed")):
        # As the API's decideOrganisation writes it (tests/api/test_api_organisations.py).
        attributed.driver.execute_query(
            "MATCH (o:Operator {operator_id: $op}) MERGE (g:Organisation {org_id: $org}) "
            "ON CREATE SET g.name = $org, g.confirmed = false, g.source = 'analyst' "
            "CREATE (o)-[:ORGANISATION_DECISION {decision: $decision, by: 'test', at: datetime(), reason: 'checked'}]->(g)",
            op=op, org=org, decision=decision, database_=attributed.database)
    second = run_attribution(attributed)
    after = {(h["operator_id"], h["org_id"]): h for h in _hypotheses(attributed, second.run_id)}
    assert (asserted["operator_id"], asserted["org_id"]) not in after
    confirmed = after[(other_op, "Analyst Named Ltd")]
    assert confirmed["asserted"] and confirmed["rank"] == 1 and confirmed["decision"] == "confirmed"
    assert confirmed["confirmed"] is False  # an organisation no table lists stays unconfirmed
    assert not any(h["asserted"] for (op, _), h in after.items() if op == other_op and h["decision"] is None)


def test_discovered_organisations_that_no_kept_run_names_are_removed(attributed: Database) -> None:
    attributed.driver.execute_query("CREATE (:Organisation {org_id: 'orphan-org', name: 'Orphan', confirmed: false})",
                                    database_=attributed.database)
    run_attribution(attributed)
    assert attributed.read_raw("MATCH (g:Organisation {org_id: 'orphan-org'}) RETURN g") == []
    assert attributed.read_raw("MATCH (g:Organisation {confirmed: true}) RETURN count(g) AS n")[0]["n"] > 0


def test_bench_organisations_times_the_step_alone_with_either_membership(attributed: Database, drawn_bundle: Path) -> None:
    from sybilgraph.bench.organisations_bench import bench_organisations, current_run_operators, truth_operators

    membership, operators = truth_operators(drawn_bundle)
    assert any(op["flagged"] for op in operators) and all(len(membership[op["operator_id"]]) == op["size"] for op in operators)
    by_truth = bench_organisations(attributed.settings, membership, operators, "truth", repeat=2)
    assert len(by_truth.step_s) == 2 and by_truth.best_s > 0 and by_truth.read_inputs_s > 0
    assert by_truth.counts["organisation_hypotheses"] > 0 and by_truth.as_dict()["ratio_to_read"] > 0

    run = run_attribution(attributed)
    run_id, membership, operators = current_run_operators(attributed)
    assert run_id == run.run_id and sum(len(m) for m in membership.values()) == run.counts["attributed"]
    decisions = attributed.read("attribution/read_organisation_decisions")  # earlier tests' decisions, as the run read them
    by_run = bench_organisations(attributed.settings, membership, operators, f"current run {run_id}", repeat=1, decisions=decisions)
    # The same step as the run's: the same candidates and hypotheses.
    assert by_run.counts["organisation_candidates"] == run.counts["organisation_candidates"]
    assert by_run.counts["organisation_hypotheses"] == run.counts["organisation_hypotheses"]
