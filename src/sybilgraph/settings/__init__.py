"""One typed settings object with sections, read from the environment and a TOML file alike.

Top level: where state lives (``home``), the Neo4j connection and the local launcher. Sections:
``ingest``, ``attribution``, ``api`` and ``jobs``; every command reads the same object, so a
value set once (``SYBILGRAPH_ATTRIBUTION__FLAG_THRESHOLD=0.6``, or ``flag_threshold = 0.6``
under ``[attribution]`` in the TOML file) reaches the CLI, the scheduler and API-started runs.

Precedence: explicit arguments > the environment > the TOML file named by ``SYBILGRAPH_CONFIG``
> defaults. In the environment a section field is ``SYBILGRAPH_<SECTION>__<FIELD>``; the flat
``SYBILGRAPH_<SECTION>_<FIELD>`` works too (``SYBILGRAPH_API_KEYS``, ``SYBILGRAPH_JOBS_INBOX``),
as do the names of earlier releases (``SYBILGRAPH_BATCH_SIZE``, ``SYBILGRAPH_AGGREGATOR``,
``SYBILGRAPH_JOBS_FLAG_THRESHOLD`` ...: ``LEGACY_NAMES``). The connection keeps the standard
``NEO4J_URI``, ``NEO4J_USER`` and ``NEO4J_PASSWORD``; when ``NEO4J_URI`` is unset, sybilgraph
runs its own local Neo4j + GDS.

Secrets (the Neo4j password, API keys, the masking key) are ``SecretStr``: printing the
settings shows ``**********``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import AliasChoices, BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from sybilgraph.settings.api import ApiSection
from sybilgraph.settings.base import Section, json_value
from sybilgraph.settings.jobs import JobsSection

if TYPE_CHECKING:
    from sybilgraph.attribution.params import AttributionParams

__all__ = [
    "ApiSection",
    "AttributionSection",
    "IngestSection",
    "JobsSection",
    "LEGACY_NAMES",
    "Settings",
]

ENV_PREFIX = "SYBILGRAPH_"


class IngestSection(Section):
    """``[ingest]``: validation, the columnar store and the graph write."""

    # Rows per write transaction (halved for links, quartered for accounts).
    batch_size: int = Field(default=20_000, ge=100)
    # DuckDB's memory while it validates and aggregates (spills to $home/tmp beyond it).
    memory_limit: str = "4GB"
    # Identifiers used by more than this share of accounts (and by more than the minimum) get a
    # node but no per-account links. Must not cut below attribution's hub cut-off (validated).
    link_max_share: float = Field(default=0.05, gt=0, le=1)
    # The fused pass (ingest/fused.py): a delivery of at most this many payment, session and
    # interaction rows is aggregated from its validated batches, held in memory (~0.2 GB per
    # million rows); larger ones, and 0, aggregate the staged Parquet after validation.
    fused_max_rows: int = Field(default=12_000_000, ge=0)
    link_hub_min_accounts: int = Field(default=50, ge=2)
    # What aggregates the columnar store for the graph: DuckDB in this process, or the PySpark
    # job (ingest/spark_aggregate.py) on ``spark_master``; both give the same tables
    # (docs/scaling.md). local[*] runs Spark on this machine.
    aggregator: Literal["duckdb", "spark"] = "duckdb"
    spark_master: str = "local[*]"
    # Any Spark setting for that job, e.g. SYBILGRAPH_SPARK_CONF='{"spark.driver.memory": "8g"}'.
    spark_conf: Annotated[dict[str, str], NoDecode] = Field(default_factory=dict)
    # An empty local database is loaded with neo4j-admin database import (ingest/bulk_import.py)
    # when the graph has at least this many node and relationship rows; below it, restarting the
    # server costs more than the transactions it saves.
    bulk_import: bool = True
    bulk_import_min_rows: int = Field(default=200_000, ge=0)

    @field_validator("spark_conf", mode="before")
    @classmethod
    def _spark_conf_json(cls, v: Any) -> Any:
        return json_value(v, "spark_conf", dict)


class AttributionSection(Section):
    """``[attribution]``: what every attribution run reads, whoever starts it (CLI, scheduler, API)."""

    # DuckDB's share while attribution builds candidate pairs (spills to $home/tmp beyond it).
    memory_limit: str = "6GB"
    # Same data + seed = same partition.
    seed: int = 42
    # Campaign score at or above which an operator is flagged.
    flag_threshold: float = Field(default=0.5, ge=0, le=1)
    # Identifiers used by more than max(hub_min_accounts, hub_fraction x accounts) accounts are
    # hubs and carry no evidence (AttributionParams).
    hub_fraction: float = Field(default=0.05, gt=0, le=1)
    hub_min_accounts: int = Field(default=50, ge=2)

    def params(self, **overrides: Any) -> AttributionParams:
        """The run parameters these settings give (explicit overrides win)."""
        from sybilgraph.attribution.params import AttributionParams

        values = {"seed": self.seed, "flag_threshold": self.flag_threshold,
                  "hub_fraction": self.hub_fraction, "hub_min_accounts": self.hub_min_accounts}
        return AttributionParams(**{**values, **{k: v for k, v in overrides.items() if v is not None}})


SECTIONS: dict[str, type[Section]] = {
    "ingest": IngestSection,
    "attribution": AttributionSection,
    "api": ApiSection,
    "jobs": JobsSection,
}

# Names of earlier releases (flat, as in the environment without the prefix, or under a
# section) -> where the value lives now. Read from the environment and the TOML file alike.
LEGACY_NAMES: dict[tuple[str, ...], tuple[str, ...]] = {
    ("batch_size",): ("ingest", "batch_size"),
    ("ingest_memory_limit",): ("ingest", "memory_limit"),
    ("link_max_share",): ("ingest", "link_max_share"),
    ("link_hub_min_accounts",): ("ingest", "link_hub_min_accounts"),
    ("aggregator",): ("ingest", "aggregator"),
    ("spark_master",): ("ingest", "spark_master"),
    ("spark_conf",): ("ingest", "spark_conf"),
    ("attribution_memory_limit",): ("attribution", "memory_limit"),
    ("jobs", "seed"): ("attribution", "seed"),
    ("jobs", "flag_threshold"): ("attribution", "flag_threshold"),
    ("api", "attribution"): ("api", "run_attribution"),
    ("jobs", "heartbeat_s"): ("lease_heartbeat_s",),
    ("jobs", "lock_stale_s"): ("lease_ttl_s",),
}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_nested_delimiter="__", extra="ignore", validate_assignment=True
    )

    # Where runs keep their state: the local Neo4j home (and its password), the columnar store,
    # reports, audit log. Default: ./var under the directory the command runs in (the quick
    # start's), whatever the install; set SYBILGRAPH_HOME to keep one home for every directory.
    home: Path = Field(default_factory=lambda: Path.cwd() / "var")

    # An existing Neo4j (Docker, Aura, cluster). When unset, the local launcher serves.
    neo4j_uri: str | None = Field(
        default=None, validation_alias=AliasChoices("NEO4J_URI", "SYBILGRAPH_NEO4J_URI", "neo4j_uri")
    )
    neo4j_user: str = Field(
        default="neo4j", validation_alias=AliasChoices("NEO4J_USER", "SYBILGRAPH_NEO4J_USER", "neo4j_user")
    )
    neo4j_password: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("NEO4J_PASSWORD", "SYBILGRAPH_NEO4J_PASSWORD", "neo4j_password"),
    )
    neo4j_database: str = "neo4j"

    # The local launcher: loopback only; sized for a 2-core / 24 GiB machine.
    bolt_port: int = Field(default=7687, ge=1, le=65535)
    # Neo4j's HTTP connector on loopback, which also serves Neo4j Browser at /browser/ (0: off).
    http_port: int = Field(default=7474, ge=0, le=65535)
    heap: str = "6g"
    pagecache: str = "2g"
    # A Maven project to build the local Neo4j from, in place; default: the one shipped in the
    # package, built in a cache directory (db/launcher.py).
    launcher_dir: Path | None = None
    java_home: Path | None = None
    start_timeout_s: float = Field(default=180.0, gt=0)

    # Leases (db/lease.py): one writer at a time for attribution and for ingest. A holder renews
    # every lease_heartbeat_s; one silent for lease_ttl_s is dead and its lease may be taken.
    lease_ttl_s: float = Field(default=60.0, gt=0)
    lease_heartbeat_s: float = Field(default=10.0, gt=0)
    # The server ends a fenced write's transaction (an ingest batch, a run's promotion) after this
    # long: the longest a holder frozen mid-write can keep the lease from being taken over.
    lease_write_timeout_s: float = Field(default=600.0, gt=0)

    ingest: IngestSection = Field(default_factory=IngestSection)
    attribution: AttributionSection = Field(default_factory=AttributionSection)
    api: ApiSection = Field(default_factory=ApiSection)
    jobs: JobsSection = Field(default_factory=JobsSection)

    @model_validator(mode="before")
    @classmethod
    def _legacy_names(cls, data: Any) -> Any:
        """Names of earlier releases in the TOML file or as arguments move to their section
        (a value given under the new name wins)."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        for old, new in LEGACY_NAMES.items():
            holder = data if len(old) == 1 else data.get(old[0])
            if not isinstance(holder, dict) or old[-1] not in holder:
                continue
            if holder is not data:
                holder = data[old[0]] = dict(holder)
            value = holder.pop(old[-1])
            if len(new) == 1:
                data.setdefault(new[0], value)
                continue
            section, name = new
            target = data.get(section)
            target = dict(target) if isinstance(target, dict) else (target.model_dump() if isinstance(target, BaseModel) else {})
            target.setdefault(name, value)
            data[section] = target
        return data

    @model_validator(mode="after")
    def _lease_outlasts_missed_beats(self) -> Settings:
        if self.lease_ttl_s < 2 * self.lease_heartbeat_s:
            raise ValueError("lease_ttl_s must be at least twice lease_heartbeat_s (a missed beat is not a death)")
        return self

    @model_validator(mode="after")
    def _hub_cut_offs_agree(self) -> Settings:
        # Attribution weighs identifiers up to its hub cut-off; ingest must keep their links.
        ing, att = self.ingest, self.attribution
        if ing.link_max_share < att.hub_fraction or ing.link_hub_min_accounts < att.hub_min_accounts:
            raise ValueError(
                "ingest.link_max_share and ingest.link_hub_min_accounts must be at least "
                "attribution.hub_fraction and attribution.hub_min_accounts: ingest would drop links "
                "that attribution counts as evidence"
            )
        return self

    @property
    def uses_local_launcher(self) -> bool:
        return not self.neo4j_uri

    @property
    def bolt_uri(self) -> str:
        return self.neo4j_uri or f"bolt://127.0.0.1:{self.bolt_port}"

    @property
    def local_password_file(self) -> Path:
        """The local Neo4j's password: generated at its first start (mode 600), read by every command."""
        return self.neo4j_home / "password"

    @property
    def neo4j_auth(self) -> tuple[str, str] | None:
        """(user, password) for the driver: NEO4J_PASSWORD, else the local Neo4j's password file;
        None when neither exists (a server without authentication)."""
        if self.neo4j_password is not None:
            return self.neo4j_user, self.neo4j_password.get_secret_value()
        if self.uses_local_launcher:
            try:
                return self.neo4j_user, self.local_password_file.read_text(encoding="utf-8").strip()
            except FileNotFoundError:
                return None
        return None

    @property
    def neo4j_auth_source(self) -> str:
        """Where ``neo4j_auth`` comes from, for the message of a refused login (never the password)."""
        if self.neo4j_password is not None:
            return "the password of NEO4J_PASSWORD"
        if self.uses_local_launcher and self.local_password_file.is_file():
            return f"the password in {self.local_password_file}"
        where = f"; the local Neo4j's is in <its home>/neo4j/password, none in {self.neo4j_home}" if self.uses_local_launcher else ""
        return f"no password: set NEO4J_PASSWORD, or SYBILGRAPH_HOME to the local Neo4j's home{where}"

    def connection_env(self) -> dict[str, str]:
        """The environment under which a child process's ``Settings()`` reaches the same Neo4j
        with the same home (the password in clear: for child processes, never for printing)."""
        env = {
            "SYBILGRAPH_HOME": str(self.home),
            "SYBILGRAPH_BOLT_PORT": str(self.bolt_port),
            "SYBILGRAPH_NEO4J_DATABASE": self.neo4j_database,
            "NEO4J_USER": self.neo4j_user,
        }
        if self.neo4j_uri:
            env["NEO4J_URI"] = self.neo4j_uri
        auth = self.neo4j_auth  # the local Neo4j's password too: the child may use another home
        if auth is not None:
            env["NEO4J_PASSWORD"] = auth[1]
        return env

    @property
    def browser_url(self) -> str | None:
        """Neo4j Browser, served by the local Neo4j's HTTP connector (None for a server we do not run)."""
        if not self.uses_local_launcher or not self.http_port:
            return None
        return f"http://127.0.0.1:{self.http_port}/browser/"

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
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings, FlatEnvSource(settings_cls)]
        config = os.environ.get("SYBILGRAPH_CONFIG")
        if config:
            path = Path(config)
            if not path.is_file():
                from sybilgraph.errors import ConfigError

                raise ConfigError(f"SYBILGRAPH_CONFIG names {path}, which is not a file")
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
        return tuple(sources)


class FlatEnvSource(EnvSettingsSource):
    """Section fields under their flat names: ``SYBILGRAPH_<SECTION>_<FIELD>`` and ``LEGACY_NAMES``.

    Below the nested names (``SYBILGRAPH_<SECTION>__<FIELD>``) in precedence.
    """

    def __init__(self, settings_cls: type[BaseSettings]) -> None:
        super().__init__(settings_cls)

    def __call__(self) -> dict[str, Any]:
        found: dict[str, Any] = {}
        environ = {k.upper(): v for k, v in os.environ.items() if k.upper().startswith(ENV_PREFIX)}
        for env_name, target in flat_env_names().items():
            if env_name not in environ:
                continue
            if len(target) == 1:
                found.setdefault(target[0], environ[env_name])
            else:
                found.setdefault(target[0], {})[target[1]] = environ[env_name]
        return found


def flat_env_names() -> dict[str, tuple[str, ...]]:
    """Every flat environment name -> (section, field), or (field,) at the top level."""
    names = {
        f"{ENV_PREFIX}{section.upper()}_{name.upper()}": (section, name)
        for section, model in SECTIONS.items()
        for name in model.model_fields
    }
    # Legacy names last: a legacy name never shadows a current one.
    for old, target in LEGACY_NAMES.items():
        names.setdefault(ENV_PREFIX + "_".join(old).upper(), target)
    return names
