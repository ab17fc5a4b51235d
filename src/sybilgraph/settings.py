"""One typed settings object, read from the environment and an optional TOML file.

Precedence: explicit arguments > environment (``SYBILGRAPH_*``; ``NEO4J_URI``, ``NEO4J_USER``,
``NEO4J_PASSWORD`` for an existing server) > the TOML file named by ``SYBILGRAPH_CONFIG``
> defaults. When ``NEO4J_URI`` is unset, sybilgraph runs its own local Neo4j + GDS.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

__all__ = ["Settings", "get_settings", "REPO_ROOT"]

# src/sybilgraph/settings.py -> repository root (editable installs and CI checkouts).
REPO_ROOT = Path(__file__).resolve().parents[2]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SYBILGRAPH_", extra="ignore")

    # Where runs keep their state: the local Neo4j home, the columnar store, reports, audit log.
    home: Path = Field(default=REPO_ROOT / "var")

    # An existing Neo4j (Docker, Aura, cluster). When unset, the local launcher serves.
    neo4j_uri: str | None = Field(
        default=None, validation_alias=AliasChoices("NEO4J_URI", "SYBILGRAPH_NEO4J_URI")
    )
    neo4j_user: str = Field(
        default="neo4j", validation_alias=AliasChoices("NEO4J_USER", "SYBILGRAPH_NEO4J_USER")
    )
    neo4j_password: str | None = Field(
        default=None,
        validation_alias=AliasChoices("NEO4J_PASSWORD", "SYBILGRAPH_NEO4J_PASSWORD"),
    )
    neo4j_database: str = "neo4j"

    # The local launcher: loopback only; sized for a 2-core / 24 GiB machine.
    bolt_port: int = 7687
    heap: str = "6g"
    pagecache: str = "2g"
    launcher_dir: Path = Field(default=REPO_ROOT / "launcher")
    java_home: Path | None = None
    start_timeout_s: float = 180.0

    # Ingest
    batch_size: int = 20_000
    ingest_memory_limit: str = "4GB"
    # DuckDB's share while attribution builds candidate pairs (spills to $home/tmp beyond it).
    attribution_memory_limit: str = "6GB"
    # Identifiers used by more than this share of accounts (and by more than the minimum) get a
    # node but no per-account links. Attribution gives them no weight at the same cut-off
    # (AttributionParams.hub_fraction), so keep the two equal or this one larger.
    link_max_share: float = 0.05
    link_hub_min_accounts: int = 50
    # What aggregates the columnar store for the graph: DuckDB in this process, or the PySpark
    # job (ingest/spark_aggregate.py) on ``spark_master``; both give the same tables
    # (docs/scaling.md). local[*] runs Spark on this machine.
    aggregator: Literal["duckdb", "spark"] = "duckdb"
    spark_master: str = "local[*]"
    # Any Spark setting for that job, e.g. SYBILGRAPH_SPARK_CONF='{"spark.driver.memory": "8g"}'.
    spark_conf: dict[str, str] = Field(default_factory=dict)

    @field_validator("bolt_port")
    @classmethod
    def _port_in_range(cls, v: int) -> int:
        if not 1 <= v <= 65535:
            raise ValueError("bolt_port must be between 1 and 65535")
        return v

    @property
    def uses_local_launcher(self) -> bool:
        return not self.neo4j_uri

    @property
    def bolt_uri(self) -> str:
        return self.neo4j_uri or f"bolt://127.0.0.1:{self.bolt_port}"

    @property
    def neo4j_home(self) -> Path:
        return self.home / "neo4j"

    @property
    def columnar_dir(self) -> Path:
        return self.home / "columnar"

    @property
    def runs_dir(self) -> Path:
        return self.home / "runs"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config = os.environ.get("SYBILGRAPH_CONFIG")
        if config:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=Path(config)))
        return tuple(sources)


@lru_cache(maxsize=1)
def get_settings(**overrides: Any) -> Settings:
    return Settings(**overrides)
