"""One settings object: sections from the environment (nested, flat and legacy names) and the
TOML file alike, validators for rules that used to live in comments, secrets never printed,
and the same ``[attribution]`` values in every run, including runs the API starts."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from sybilgraph.errors import ConfigError
from sybilgraph.settings import LEGACY_NAMES, Settings
from sybilgraph.settings.api import load_key_table

STRONG_KEY = "k3y-7d1f0c9e8b2a4f6d5c3b1a09"
MASK = "m4sk-2c9e7a5b3d1f0e8c6a4b"


@pytest.fixture()
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    import os

    for name in list(os.environ):
        if name.startswith(("SYBILGRAPH_", "NEO4J_")):
            monkeypatch.delenv(name)
    return monkeypatch


def _toml(tmp_path: Path, text: str, env: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "sybilgraph.toml"
    path.write_text(text)
    env.setenv("SYBILGRAPH_CONFIG", str(path))
    return path


def test_sections_from_nested_flat_and_legacy_environment_names(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("SYBILGRAPH_API__MAX_DEPTH", "9")                   # nested
    clean_env.setenv("SYBILGRAPH_API_KEYS", json.dumps({STRONG_KEY: {"user": "ann", "role": "admin"}}))  # flat
    clean_env.setenv("SYBILGRAPH_JOBS_INBOX", "/srv/inbox")              # flat
    clean_env.setenv("SYBILGRAPH_BATCH_SIZE", "5000")                    # legacy
    clean_env.setenv("SYBILGRAPH_JOBS_FLAG_THRESHOLD", "0.6")            # legacy: now [attribution]
    clean_env.setenv("SYBILGRAPH_SPARK_CONF", '{"spark.driver.memory": "8g"}')
    clean_env.setenv("SYBILGRAPH_API_TRUSTED_PROXIES", "10.0.0.1, 10.0.0.2")
    s = Settings()
    assert s.api.max_depth == 9
    assert [(k.get_secret_value(), v.user) for k, v in s.api.keys.items()] == [(STRONG_KEY, "ann")]
    assert s.jobs.inbox == Path("/srv/inbox")
    assert s.ingest.batch_size == 5000
    assert s.attribution.flag_threshold == 0.6 and s.attribution.params().flag_threshold == 0.6
    assert s.ingest.spark_conf == {"spark.driver.memory": "8g"}
    assert s.api.trusted_proxies == ["10.0.0.1", "10.0.0.2"]


def test_nested_name_wins_over_flat_and_environment_over_toml(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _toml(tmp_path, "[ingest]\nbatch_size = 3000\nmemory_limit = '2GB'\n", clean_env)
    assert (Settings().ingest.batch_size, Settings().ingest.memory_limit) == (3000, "2GB")
    clean_env.setenv("SYBILGRAPH_BATCH_SIZE", "4000")
    assert Settings().ingest.batch_size == 4000
    clean_env.setenv("SYBILGRAPH_INGEST__BATCH_SIZE", "6000")
    assert Settings().ingest.batch_size == 6000
    assert Settings(ingest={"batch_size": 7000}).ingest.batch_size == 7000  # explicit arguments win


def test_toml_sections_and_legacy_flat_keys(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _toml(tmp_path, f"""
batch_size = 1000            # a name of earlier releases, at the top level
aggregator = "spark"

[attribution]
seed = 7

[jobs]
flag_threshold = 0.7         # earlier releases kept it under [jobs]
attribution_cron = "30 2 * * *"

[api]
mask_key = "{MASK}"
production = true

[api.keys."{STRONG_KEY}"]
user = "ann"
role = "analyst"
""", clean_env)
    s = Settings()
    assert (s.ingest.batch_size, s.ingest.aggregator) == (1000, "spark")
    assert (s.attribution.seed, s.attribution.flag_threshold) == (7, 0.7)
    assert s.jobs.attribution_cron == "30 2 * * *"
    assert s.api.production and s.api.mask_key is not None
    assert [spec.user for spec in load_key_table(s.api, production=True).values()] == ["ann"]


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"ingest": {"link_max_share": 0.01}}, "must be at least attribution.hub_fraction"),
        ({"attribution": {"hub_min_accounts": 80}}, "must be at least attribution.hub_fraction"),
        ({"lease_heartbeat_s": 10, "lease_ttl_s": 15}, "twice lease_heartbeat_s"),
        ({"jobs": {"heartbeat_s": 10, "lock_stale_s": 15}}, "twice lease_heartbeat_s"),  # names of earlier releases
        ({"jobs": {"attribution_cron": "every hour"}}, "invalid cron expression"),
        ({"jobs": {"retry_base_s": 10, "retry_max_s": 5}}, "retry_max_s must be at least retry_base_s"),
        ({"jobs": {"ready_marker": "../READY"}}, "ready_marker must be a file name"),
        ({"api": {"keyz": {}}}, "Extra inputs are not permitted"),
        ({"attribution": {"flag_threshold": 1.5}}, "less than or equal to 1"),
    ],
)
def test_rules_that_lived_in_comments_are_validated(clean_env: pytest.MonkeyPatch, values: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Settings(**values)


def test_a_missing_config_file_is_named(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    clean_env.setenv("SYBILGRAPH_CONFIG", str(tmp_path / "nope.toml"))
    with pytest.raises(ConfigError, match="nope.toml, which is not a file"):
        Settings()


def test_secrets_are_never_printed(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("NEO4J_PASSWORD", "neo4j-pass-5e2d")
    clean_env.setenv("SYBILGRAPH_API_KEYS", json.dumps({STRONG_KEY: {"user": "ann", "role": "admin"}}))
    clean_env.setenv("SYBILGRAPH_API_MASK_KEY", MASK)
    s = Settings()
    shown = [repr(s), str(s), s.model_dump_json(), json.dumps(s.model_dump(mode="json"))]
    for text in shown:
        for secret in ("neo4j-pass-5e2d", STRONG_KEY, MASK):
            assert secret not in text
    assert isinstance(s.api.mask_key, SecretStr) and s.neo4j_auth == ("neo4j", "neo4j-pass-5e2d")
    assert s.connection_env()["NEO4J_PASSWORD"] == "neo4j-pass-5e2d"  # for child processes only


def test_every_legacy_name_lands_in_a_real_field() -> None:
    from sybilgraph.settings import SECTIONS

    for target in LEGACY_NAMES.values():
        fields = Settings.model_fields if len(target) == 1 else SECTIONS[target[0]].model_fields
        assert target[-1] in fields


# -- the same settings reach API-started runs -----------------------------------------------------
@pytest.mark.integration
@pytest.mark.parametrize("source", ["environment", "toml"])
def test_attribution_settings_reach_runs_the_api_starts(
    source: str, db, small_bundle: Path, tmp_path: Path, clean_env: pytest.MonkeyPatch  # type: ignore[no-untyped-def]
) -> None:
    """SYBILGRAPH_JOBS_FLAG_THRESHOLD (or [attribution] in the TOML file) reaches a run started
    over GraphQL by a server built from ``Settings()``, exactly as ``sybilgraph serve`` builds it."""
    from sybilgraph.api import create_app
    from sybilgraph.api.runner import run_attribution_with_defaults
    from sybilgraph.ingest import ingest_bundle
    from sybilgraph.jobs import Scheduler
    from tests.api.api_queries import RUN, START_RUN
    from tests.api.api_support import ApiServer

    # A generated bundle: the evidence model is estimated on the data, which needs a population.
    ingest_bundle(small_bundle, db.settings, db)
    for name, value in db.settings.connection_env().items():
        clean_env.setenv(name, value)
    clean_env.setenv("SYBILGRAPH_API_KEYS", json.dumps({STRONG_KEY: {"user": "ann", "role": "analyst"}}))
    # Production is the default: the server refuses to start without its masking and audit keys.
    clean_env.setenv("SYBILGRAPH_API_MASK_KEY", "m" + STRONG_KEY)
    clean_env.setenv("SYBILGRAPH_API_AUDIT_KEY", "a" + STRONG_KEY)
    clean_env.setenv("SYBILGRAPH_API_AUDIT_PATH", str(tmp_path / "audit.jsonl"))
    if source == "environment":
        clean_env.setenv("SYBILGRAPH_JOBS_FLAG_THRESHOLD", "0.61")
        clean_env.setenv("SYBILGRAPH_ATTRIBUTION__SEED", "7")
    else:
        _toml(tmp_path, "[attribution]\nflag_threshold = 0.61\nseed = 7\n", clean_env)

    settings = Settings()
    assert Scheduler(settings, db=db).params == settings.attribution.params()  # the scheduler reads the same
    app = create_app(settings, run_attribution=run_attribution_with_defaults)
    with ApiServer(app) as srv, srv.client(STRONG_KEY) as c:
        run_id = c.data(START_RUN)["startAttributionRun"]["runId"]
        deadline = time.monotonic() + 600
        while (run := c.data(RUN, {"id": run_id})["run"])["status"] == "RUNNING":
            assert time.monotonic() < deadline, "the API-started run did not finish"
            time.sleep(0.2)
    assert run["status"] == "COMPLETE", run
    assert (run["parameters"]["flag_threshold"], run["parameters"]["seed"]) == (0.61, 7)
    scored = db.read_raw(
        "MATCH (o:Operator)-[s:SCORED_IN]->(:AttributionRun {run_id: $id}) "
        "RETURN s.size AS size, s.campaign_score AS score, s.flagged AS flagged", id=run_id)
    assert scored, "the run found no operators"
    assert all(r["flagged"] == (r["score"] >= 0.61 and r["size"] >= 10) for r in scored)
