"""The case file's chart kinds drawn by matplotlib and by Vega-Lite (vl-convert), side by side in one process.

How the charting library was chosen (docs/report.md). Needs both: ``pip install vl-convert-python``
(not a sybilgraph dependency). Prints first-call, median and worst times of four charts, and the
SVG sizes, as JSON: ``python bench/chart_libraries.py``.
"""
import io, json, time, statistics, sys
import numpy as np
t0 = time.perf_counter()
import matplotlib
matplotlib.use("svg")
from matplotlib.figure import Figure
t_import_mpl = time.perf_counter() - t0
t0 = time.perf_counter()
import vl_convert as vlc
t_import_vl = time.perf_counter() - t0

rng = np.random.default_rng(1)
days = 60
daily = rng.integers(100, 5000, days)
heat = rng.integers(0, 500, (7, 24))
feats = {f"f{i}": float(rng.random()) for i in range(8)}
conf = rng.random(2000)

def mpl_charts():
    out = []
    f = Figure(figsize=(7, 2.6)); ax = f.add_subplot(); ax.plot(range(days), daily); ax.axvline(5); ax.axvline(50); ax.set_title("daily"); b = io.StringIO(); f.savefig(b, format="svg"); out.append(b.getvalue())
    f = Figure(figsize=(7, 2.6)); ax = f.add_subplot(); ax.imshow(heat, aspect="auto"); ax.set_title("heat"); b = io.StringIO(); f.savefig(b, format="svg"); out.append(b.getvalue())
    f = Figure(figsize=(5, 2.6)); ax = f.add_subplot(); ax.barh(list(feats), list(feats.values())); ax.set_title("features"); b = io.StringIO(); f.savefig(b, format="svg"); out.append(b.getvalue())
    f = Figure(figsize=(5, 2.6)); ax = f.add_subplot(); ax.hist(conf, bins=20); ax.set_title("conf"); b = io.StringIO(); f.savefig(b, format="svg"); out.append(b.getvalue())
    return out

def vl_charts():
    out = []
    out.append(vlc.vegalite_to_svg({"$schema": "https://vega.github.io/schema/vega-lite/v5.json", "title": "daily", "width": 600, "height": 200,
        "data": {"values": [{"d": i, "n": int(n)} for i, n in enumerate(daily)]}, "mark": "line", "encoding": {"x": {"field": "d", "type": "quantitative"}, "y": {"field": "n", "type": "quantitative"}}}))
    out.append(vlc.vegalite_to_svg({"title": "heat", "width": 600, "height": 200, "data": {"values": [{"d": d, "h": h, "n": int(heat[d, h])} for d in range(7) for h in range(24)]},
        "mark": "rect", "encoding": {"x": {"field": "h", "type": "ordinal"}, "y": {"field": "d", "type": "ordinal"}, "color": {"field": "n", "type": "quantitative"}}}))
    out.append(vlc.vegalite_to_svg({"title": "features", "width": 400, "height": 200, "data": {"values": [{"f": k, "v": v} for k, v in feats.items()]},
        "mark": "bar", "encoding": {"y": {"field": "f", "type": "nominal"}, "x": {"field": "v", "type": "quantitative"}}}))
    out.append(vlc.vegalite_to_svg({"title": "conf", "width": 400, "height": 200, "data": {"values": [{"c": float(c)} for c in conf]},
        "mark": "bar", "encoding": {"x": {"field": "c", "bin": {"maxbins": 20}}, "y": {"aggregate": "count"}}}))
    return out

res = {}
for name, fn in (("matplotlib", mpl_charts), ("vega-lite (vl-convert)", vl_charts)):
    first = time.perf_counter(); svgs = fn(); first = time.perf_counter() - first
    times = []
    for _ in range(5):
        t = time.perf_counter(); svgs = fn(); times.append(time.perf_counter() - t)
    res[name] = {"first_call_s": round(first, 3), "median_4_charts_s": round(statistics.median(times), 3), "worst_s": round(max(times), 3), "svg_bytes": sum(len(s) for s in svgs)}
res["import_s"] = {"matplotlib": round(t_import_mpl, 3), "vl_convert": round(t_import_vl, 3)}
print(json.dumps(res, indent=1))
