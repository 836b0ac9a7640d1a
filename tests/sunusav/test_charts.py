"""The back-office's SVG charts (dashboard, model cards, backtest report): valid SVG whose marks follow the data."""

import xml.etree.ElementTree as ET

import pytest

from sunusav.charts import Series, _nice_max, bar_chart, hbar_chart, line_chart

SVG = "{http://www.w3.org/2000/svg}"


def _parse(svg: str) -> ET.Element:
    root = ET.fromstring(str(svg))  # raises on invalid XML
    assert root.tag == f"{SVG}svg"
    assert root.get("role") == "img" and root.get("aria-label")
    return root


def _bars(root: ET.Element) -> list[ET.Element]:
    return [r for r in root.iter(f"{SVG}rect") if r.get("class") == "bar"]


def test_bar_heights_follow_the_data_from_zero():
    values = [0, 10, 50, 25]
    root = _parse(bar_chart(["a", "b", "c", "d"], Series("n", values), title="t", height=220))
    bars = _bars(root)
    assert [float(b.get("data-value")) for b in bars] == values
    heights = [float(b.get("height")) for b in bars]
    assert heights[0] == 0
    # Proportional: each bar's height over the largest's equals its value over the largest value.
    for value, height in zip(values, heights, strict=True):
        assert height / heights[2] == pytest.approx(value / 50, abs=0.002)
    # Bars stand on one baseline: y + height is the same for all.
    bottoms = {round(float(b.get("y")) + float(b.get("height")), 1) for b in bars}
    assert len(bottoms) == 1
    # The tallest bar fills the plot up to the axis maximum (50 is a round value).
    assert heights[2] == pytest.approx(220 - 8 - 34, abs=0.01)


def test_grouped_bars_have_one_bar_per_series_and_a_legend():
    root = _parse(
        bar_chart(["x", "y"], [Series("ouvertes", [1, 2]), Series("total", [4, 8])], title="alertes", width=300)
    )
    bars = _bars(root)
    assert [b.get("data-series") for b in bars] == ["ouvertes", "total", "ouvertes", "total"]
    heights = {(b.get("data-label"), b.get("data-series")): float(b.get("height")) for b in bars}
    assert heights[("y", "total")] == pytest.approx(2 * heights[("x", "total")], abs=0.01)
    assert heights[("x", "total")] == pytest.approx(4 * heights[("x", "ouvertes")], abs=0.01)
    assert "ouvertes" in "".join(root.itertext()) and "total" in "".join(root.itertext())


def test_labels_and_titles_are_escaped():
    svg = bar_chart(['<script>"&'], Series("a<b", [3]), title="x & <y>")
    root = _parse(svg)
    assert "<script>" not in str(svg)
    assert root.get("aria-label") == "x & <y>"
    assert _bars(root)[0].get("data-label") == '<script>"&'


def test_empty_and_all_zero_data_draw_nothing_tall():
    root = _parse(bar_chart([], Series("n", []), title="vide"))
    assert _bars(root) == []
    root = _parse(bar_chart(["a", "b"], Series("n", [0, 0]), title="zéros"))
    assert [float(b.get("height")) for b in _bars(root)] == [0, 0]


def test_horizontal_bar_widths_follow_the_data():
    root = _parse(hbar_chart(["f1", "f2", "f3"], [0.5, 0.25, 0.125], title="importances", width=460))
    widths = [float(b.get("width")) for b in _bars(root)]
    assert widths[0] == pytest.approx(460 - 170 - 70)
    assert widths[1] == pytest.approx(widths[0] / 2, abs=0.01)
    assert widths[2] == pytest.approx(widths[0] / 4, abs=0.01)


def test_line_points_rise_with_the_values():
    values = [5, 0, 20, 10]
    root = _parse(line_chart(["0h", "1h", "2h", "3h"], Series("checks", values), title="par heure"))
    points = [c for c in root.iter(f"{SVG}circle") if c.get("class") == "point"]
    assert [float(p.get("data-value")) for p in points] == values
    ys = [float(p.get("cy")) for p in points]
    xs = [float(p.get("cx")) for p in points]
    assert xs == sorted(xs)
    # Higher value, higher point (smaller y); distances from the baseline are proportional.
    baseline = ys[1]
    assert (baseline - ys[2]) == pytest.approx(2 * (baseline - ys[3]), abs=0.02)
    assert (baseline - ys[3]) == pytest.approx(2 * (baseline - ys[0]), abs=0.02)
    polyline = next(root.iter(f"{SVG}polyline"))
    assert len(polyline.get("points").split()) == 4


def test_axis_maximum_is_a_round_number_at_or_above_the_peak():
    assert [_nice_max(v) for v in (0, 0.3, 1, 7, 40, 41, 250, 999, 1001)] == [1, 0.5, 1, 10, 50, 50, 250, 1000, 2000]


def test_a_reference_line_stands_at_its_value_and_the_axis_reaches_it():
    root = _parse(bar_chart(["a", "b"], Series("n", [3, 6]), title="t", height=220, reference=("capacité", 20)))
    (line,) = [e for e in root.iter(f"{SVG}line") if e.get("class") == "reference"]
    assert float(line.get("data-value")) == 20 and line.get("stroke-dasharray")
    bars = _bars(root)
    bottom = float(bars[0].get("y")) + float(bars[0].get("height"))
    # 20 is the axis' top (a round value): the line is at the top of the plot, the bars to the same scale.
    assert float(line.get("y1")) == pytest.approx(22.0)
    assert float(bars[1].get("height")) == pytest.approx((bottom - 22.0) * 6 / 20, abs=0.01)
    assert "capacité : 20" in "".join(root.itertext())
