"""What ``sybilgraph bench`` measures, as plain data: written as JSON, read back for the docs.

Phases are named by path: ``ingest``, ``ingest.validate``, ``attribute.communities.leiden``.
Every number a report shows is here; nothing in this module touches a database.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["GIB", "ApiLevel", "BenchRun", "Floor", "Phase", "ScaleResult", "ratio"]

GIB = 1024**3


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return numerator / denominator


@dataclass
class Phase:
    name: str
    seconds: float
    rows: int | None = None  # the denominator of rows/s ...
    unit: str | None = None  # ... and what it counts ("interactions", "accounts", ...)
    peak_rss: dict[str, int | None] = field(default_factory=dict)  # bytes per process
    peak_python_jvm: int | None = None  # largest simultaneous Python + JVM RSS
    store_bytes: int | None = None  # Neo4j store files on disk after the phase (as flushed so far)
    tx_log_bytes: int | None = None  # its transaction logs (preallocated: 256 MiB at least)
    approximate_window: bool = False  # a sub-phase whose window was rebuilt from timings

    @property
    def depth(self) -> int:
        return self.name.count(".")

    @property
    def rows_per_s(self) -> float | None:
        return ratio(self.rows, self.seconds) if self.rows is not None else None


@dataclass
class Floor:
    """The least the same work could cost, measured in the same run on the same input."""

    name: str
    seconds: float
    rows: int
    unit: str
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class ApiLevel:
    workload: str  # with its pass: "account(id)+evidence warm" (cold: first asked; warm: asked again)
    clients: int
    requests: int
    errors: int
    p50_ms: float
    p99_ms: float
    rps: float
    hit_rate: float | None = None  # answers the response cache served


@dataclass
class ScaleResult:
    scale: float
    seed: int
    bundle: str
    bundle_generated: bool
    measured_at: str  # ISO 8601, UTC
    code: dict[str, Any] = field(default_factory=dict)  # commit, dirty
    sizes: dict[str, int] = field(default_factory=dict)
    phases: list[Phase] = field(default_factory=list)
    floors: dict[str, Floor] = field(default_factory=dict)
    api: list[ApiLevel] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def phase(self, name: str) -> Phase | None:
        return next((p for p in self.phases if p.name == name), None)

    def seconds(self, name: str) -> float | None:
        p = self.phase(name)
        return p.seconds if p else None

    def floor_seconds(self, name: str) -> float | None:
        f = self.floors.get(name)
        return f.seconds if f else None

    @property
    def ratios(self) -> dict[str, float | None]:
        """Each piece of work over its floor (1.0 = as fast as the floor)."""
        return {
            "ingest / pyarrow read": ratio(self.seconds("ingest"), self.floor_seconds("pyarrow_read")),
            "ingest aggregate / duckdb group-by": ratio(self.seconds("ingest.aggregate"), self.floor_seconds("duckdb_group_by")),
            "attribution communities / bare leiden": ratio(self.seconds("attribute.communities"), self.floor_seconds("gds_leiden")),
        }

    @property
    def gds_steps(self) -> dict[str, float | None]:
        """The issue's GDS steps, named as it names them, from the attribution's phases."""
        return {
            "projection": self.seconds("attribute.communities.projection"),
            "evidence model": self.seconds("attribute.evidence"),
            "community detection": self.seconds("attribute.communities.leiden"),
            "write-back": self.seconds("attribute.write"),
        }

    def peak(self, process: str) -> int | None:
        values = [p.peak_rss.get(process) for p in self.phases if p.depth == 0]
        present = [v for v in values if v is not None]
        return max(present) if present else None

    @property
    def peak_python_jvm(self) -> int | None:
        values = [p.peak_python_jvm for p in self.phases if p.depth == 0 and p.peak_python_jvm is not None]
        return max(values) if values else None

    @property
    def store_bytes(self) -> int | None:
        """The Neo4j store files after a clean shutdown (checkpointed); None when not measured."""
        return self.sizes.get("store_bytes_at_rest") or None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["ratios"] = self.ratios  # derived, stored for readers of the JSON alone
        d["gds_steps_s"] = self.gds_steps
        for p, raw in zip(self.phases, d["phases"]):
            raw["rows_per_s"] = p.rows_per_s
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ScaleResult:
        phase_fields = set(Phase.__dataclass_fields__)
        return cls(
            scale=float(d["scale"]),
            seed=int(d["seed"]),
            bundle=d["bundle"],
            bundle_generated=bool(d["bundle_generated"]),
            measured_at=d["measured_at"],
            code=dict(d.get("code", {})),
            sizes=dict(d.get("sizes", {})),
            phases=[Phase(**{k: v for k, v in p.items() if k in phase_fields}) for p in d.get("phases", [])],
            floors={k: Floor(**f) for k, f in d.get("floors", {}).items()},
            api=[ApiLevel(**a) for a in d.get("api", [])],
            notes=list(d.get("notes", [])),
        )


@dataclass
class BenchRun:
    command: str
    started_at: str
    machine: dict[str, Any] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)  # heap, page cache, memory limits
    load_average: dict[str, list[float]] = field(default_factory=dict)  # before / after
    scales: list[ScaleResult] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["scales"] = [s.to_dict() for s in self.scales]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> BenchRun:
        return cls(
            command=d["command"],
            started_at=d["started_at"],
            machine=dict(d.get("machine", {})),
            settings=dict(d.get("settings", {})),
            load_average=dict(d.get("load_average", {})),
            scales=[ScaleResult.from_dict(s) for s in d.get("scales", [])],
        )
