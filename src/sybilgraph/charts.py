"""Charts as inline SVG from matplotlib, each with a title and a text alternative.

One place turns a matplotlib figure into SVG that can sit inside an HTML page or a Markdown
document: the XML prologue is dropped, ``<title>`` and ``<desc>`` are inserted with
``role="img"`` so screen readers and search read what the chart shows, element ids are prefixed
with the chart's key (several SVGs in one page must not share clip-path or glyph ids), and the
output is deterministic (fixed hash salt, no date) so regenerated files diff cleanly.

Why matplotlib: measured side by side with Vega-Lite rendered by vl-convert on the case file's
chart kinds (docs/report.md), steady-state rendering is the same, vl-convert's first call costs
a second more, its wheel is 84 MB against 35 MB, and matplotlib also draws the evidence graph
(networkx layouts), which Vega-Lite cannot lay out.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from html import escape

import matplotlib

matplotlib.use("svg")  # no GUI backend; safe in worker threads and on servers

from matplotlib.figure import Figure  # noqa: E402 - after choosing the backend

__all__ = ["Chart", "PALETTE", "figure", "to_chart"]

# Colour-blind safe (Okabe-Ito), in the order series take them.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000")

_STYLE = {
    "svg.fonttype": "none",  # text stays text: searchable, selectable, small
    "svg.hashsalt": "sybilgraph",  # deterministic ids
    "font.family": "sans-serif",
    "font.size": 9.0,
    "axes.titlesize": 10.0,
    "axes.titleweight": "bold",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.prop_cycle": matplotlib.cycler(color=list(PALETTE)),
}


@dataclass(frozen=True)
class Chart:
    key: str  # unique within a page; prefixes the SVG's ids
    title: str
    alt: str  # what the chart shows, in words and numbers, for people who cannot see it
    svg: str  # inline <svg> element with <title> and <desc>


# Set once for the process, not per call: rc_context swaps global state, which worker threads
# drawing at the same time (the API renders case files in threads) would see half-swapped.
matplotlib.rcParams.update(_STYLE)


def figure(width_in: float, height_in: float) -> Figure:
    """A figure in the house style (no pyplot: figures are independent objects)."""
    return Figure(figsize=(width_in, height_in), layout="constrained")


def to_chart(fig: Figure, *, key: str, title: str, alt: str) -> Chart:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
    return Chart(key=key, title=title, alt=alt, svg=_accessible(buf.getvalue(), key, title, alt))


_OPEN_SVG = re.compile(r"<svg\b[^>]*>")
_ID = re.compile(r'\bid="([^"]+)"')


def _accessible(svg: str, key: str, title: str, alt: str) -> str:
    svg = svg[svg.index("<svg"):]  # drop the XML prologue and doctype: invalid inside HTML
    prefix = re.sub(r"[^A-Za-z0-9_-]", "-", key)
    for old in sorted(set(_ID.findall(svg)), key=len, reverse=True):
        new = f"{prefix}-{old}"
        svg = svg.replace(f'id="{old}"', f'id="{new}"').replace(f"#{old})", f"#{new})").replace(f'"#{old}"', f'"#{new}"')
    head = _OPEN_SVG.search(svg)
    assert head is not None, "matplotlib wrote an SVG without an <svg> element"
    opening = head.group(0)[:-1] + f' role="img" aria-labelledby="{prefix}-title {prefix}-desc">'
    labels = f'<title id="{prefix}-title">{escape(title)}</title><desc id="{prefix}-desc">{escape(alt)}</desc>'
    return svg[: head.start()] + opening + labels + svg[head.end():]
