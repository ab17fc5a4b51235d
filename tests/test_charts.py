"""Charts as inline SVG: titled and described for screen readers, ids unique per chart, deterministic."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from sybilgraph.charts import figure, to_chart

NS = "{http://www.w3.org/2000/svg}"


def _chart(key: str) -> str:
    fig = figure(3, 2)
    ax = fig.add_subplot()
    ax.plot([1, 2, 3], [3, 1, 2], label="a & b")
    ax.set_title("A <title>")
    ax.legend()
    return to_chart(fig, key=key, title="Rises & falls", alt="Three points: 3, then 1, then 2.").svg


def test_svg_carries_title_and_description_for_screen_readers() -> None:
    svg = _chart("demo")
    assert svg.startswith("<svg") and "<?xml" not in svg and "<!DOCTYPE" not in svg
    root = ET.fromstring(svg)
    assert root.get("role") == "img" and root.get("aria-labelledby") == "demo-title demo-desc"
    assert root.find(f"{NS}title").text == "Rises & falls"
    assert root.find(f"{NS}desc").text == "Three points: 3, then 1, then 2."
    assert {t.text for t in root.iter(f"{NS}text")} >= {"A <title>", "a & b"}  # text stays text


def test_ids_are_prefixed_so_charts_can_share_a_page() -> None:
    a, b = _chart("one"), _chart("two")
    ids_a, ids_b = set(re.findall(r'id="([^"]+)"', a)), set(re.findall(r'id="([^"]+)"', b))
    assert ids_a and all(i.startswith("one-") for i in ids_a) and not ids_a & ids_b
    for ref in re.findall(r"url\(#([^)]+)\)", a):
        assert ref in ids_a  # every reference follows its renamed target


def test_the_same_chart_gives_the_same_svg() -> None:
    assert _chart("same") == _chart("same")
