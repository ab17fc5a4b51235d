"""The case file as one self-contained HTML page (and a PDF of it where Chromium is installed).

The page is a Jinja2 template (``templates/case.html.j2``) with its CSS inline, charts as
inline SVG and a few lines of inline script that page the members table; it loads nothing from
anywhere, so it opens on an air-gapped machine and prints as it shows (print CSS: sections
break cleanly, the members table prints its current page). The PDF is Chromium's own print of
that page (``--print-to-pdf``), so the two never disagree.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from sybilgraph.charts import Chart
from sybilgraph.errors import ReportError
from sybilgraph.report import figures
from sybilgraph.report.evidence_graph import KIND_NAMES, draw_evidence_graph, summarise
from sybilgraph.report.model import CaseFile

__all__ = ["CHROMIUM_FLAGS", "case_charts", "find_chromium", "render_html", "render_pdf"]

# Flags that keep headless Chromium from reaching for the network (it hangs on a closed one).
CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
)
MEMBERS_PER_PAGE = 50


@dataclass(frozen=True)
class CaseCharts:
    features: Chart | None
    confidence: Chart | None
    evidence_graph: Chart | None
    daily: Chart | None
    creation: Chart | None
    hour_of_week: Chart | None
    categories: Chart | None
    output_tokens: Chart | None

    def all(self) -> list[Chart]:
        return [c for c in (self.features, self.confidence, self.evidence_graph, self.daily, self.creation,
                            self.hour_of_week, self.categories, self.output_tokens) if c is not None]


def case_charts(case: CaseFile) -> CaseCharts:
    s, b = case.summary, case.behaviour
    graph = summarise(case.members_total, case.identifiers)
    return CaseCharts(
        features=figures.feature_bars(s.features, s.campaign_score, s.flag_threshold, s.flagged),
        confidence=figures.confidence_distribution(s.confidences),
        evidence_graph=draw_evidence_graph(graph, s.operator_id, s.flagged, case.members_total),
        daily=figures.daily_interactions(b) if b else None,
        creation=figures.creation_bursts(case.members),
        hour_of_week=figures.hour_of_week(b) if b else None,
        categories=figures.category_mix(b) if b else None,
        output_tokens=figures.output_token_profile(b) if b else None,
    )


_ENV = Environment(
    loader=PackageLoader("sybilgraph.report", "templates"),
    autoescape=select_autoescape(["html", "j2"]),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def render_html(case: CaseFile) -> str:
    charts = case_charts(case)
    return _ENV.get_template("case.html.j2").render(
        case=case, s=case.summary, p=case.provenance, charts=charts, kind_names=KIND_NAMES,
        per_page=MEMBERS_PER_PAGE,
    )


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


def render_pdf(html: str, out: Path, timeout_s: float = 120.0) -> None:
    """Print the page to PDF with headless Chromium; a clear error when none is installed."""
    chromium = find_chromium()
    if chromium is None:
        raise ReportError("no PDF renderer: install Chromium (Debian: apt-get install chromium), "
                          "or write HTML (--format html) and print it from a browser")
    with tempfile.TemporaryDirectory(prefix="sybilgraph-pdf-") as tmp:
        page = Path(tmp) / "case.html"
        page.write_text(html, encoding="utf-8")
        target = out.resolve()
        proc = subprocess.run(
            [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={tmp}/profile", "--no-pdf-header-footer",
             f"--print-to-pdf={target}", page.as_uri()],
            capture_output=True, text=True, timeout=timeout_s, env={**os.environ, "HOME": tmp},
        )
    if proc.returncode != 0 or not target.is_file():
        tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-5:])
        raise ReportError(f"Chromium could not print the case file to {out}:\n{tail}")
