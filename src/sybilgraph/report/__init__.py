"""Case files: one operator's case as a self-contained, printable HTML page (or PDF).

``gather_case`` reads the operator from Neo4j and its behaviour from the columnar store, masked
for the reader's role; ``render_html`` draws the charts (matplotlib, inline SVG, each titled and
described) and fills the template. ``sybilgraph report operator ID`` and the API's
``GET /reports/operators/{id}`` both use them. See docs/report.md.
"""

from sybilgraph.report.gather import CaseOptions, Mask, Reader, gather_case
from sybilgraph.report.model import CaseFile
from sybilgraph.report.render import find_chromium, render_html, render_pdf

__all__ = ["CaseFile", "CaseOptions", "Mask", "Reader", "find_chromium", "gather_case", "render_html", "render_pdf"]
