"""Small server-rendered SVG charts for the back-office pages of every app (no JavaScript, no CDN).

Production networks have no internet, so charts are drawn here as inline SVG:
a vertical bar chart (one or several series side by side), a horizontal bar
chart (long labels, e.g. feature importances) and a line chart. Every mark
carries its value (`data-value`) and a `<title>` tooltip, so a chart is
readable with the mouse and testable without a browser. Bars are drawn to
scale from zero: a bar's height is `value / max * plot height`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

from django.utils.safestring import SafeString, mark_safe

from sunusav.presenters import number_text

PALETTE = ("#417690", "#e8a33d", "#ba2121", "#5b9c5b", "#8a6fb3", "#6d7b85")
FONT = 'font-family="system-ui, -apple-system, Segoe UI, Roboto, sans-serif"'


@dataclass(frozen=True)
class Series:
    """One named row of values, drawn in one colour."""

    name: str
    values: Sequence[float]
    color: str = ""


def _num(value: float) -> str:
    """Format a coordinate compactly (two decimals at most)."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _fmt(value: float | None, unit: str = "") -> str:
    """Format a value for a label or tooltip in the page's language: "1 200", "74,9", "0,05"."""
    if value is None:
        return "–"
    value = float(value)
    if value.is_integer() and abs(value) < 1e15:
        text = number_text(int(value))
    elif abs(value) >= 100:
        text = number_text(round(value))
    else:
        # Three significant digits, like "%.3g", with the page's decimal separator.
        text = number_text(value, max_decimals=max(0, 2 - math.floor(math.log10(abs(value)))))
    return f"{text}{unit}"


def _nice_max(value: float) -> float:
    """Return a round upper bound of the axis at or above `value` (1, 2, 2.5, 5 x 10^k)."""
    if value <= 0:
        return 1.0
    magnitude = 10.0 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if step * magnitude >= value * (1 - 1e-12):
            return step * magnitude
    return 10 * magnitude


def _svg(width: int, height: int, title: str, body: list[str]) -> SafeString:
    return mark_safe(
        f'<svg xmlns="http://www.w3.org/2000/svg" class="bo-chart" role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" aria-label={quoteattr(title)} {FONT} font-size="11">'
        f"<title>{escape(title)}</title>" + "".join(body) + "</svg>"
    )


def _legend(series: Sequence[Series], x: float, y: float) -> list[str]:
    parts = []
    for i, s in enumerate(series):
        color = s.color or PALETTE[i % len(PALETTE)]
        parts.append(
            f'<g class="legend"><rect x="{_num(x)}" y="{_num(y - 9)}" width="10" height="10" fill="{color}"/>'
            f'<text x="{_num(x + 14)}" y="{_num(y)}">{escape(s.name)}</text></g>'
        )
        x += 24 + 7 * len(s.name)
    return parts


def _y_axis(left: float, top: float, plot_h: float, right: float, top_value: float, unit: str) -> list[str]:
    parts = []
    for fraction in (0.0, 0.5, 1.0):
        y = top + plot_h * (1 - fraction)
        parts.append(f'<line x1="{_num(left)}" y1="{_num(y)}" x2="{_num(right)}" y2="{_num(y)}" stroke="#ddd"/>')
        parts.append(
            f'<text x="{_num(left - 4)}" y="{_num(y + 4)}" text-anchor="end" fill="#666">'
            f"{escape(_fmt(top_value * fraction, unit))}</text>"
        )
    return parts


def bar_chart(
    labels: Sequence[str],
    series: Sequence[Series] | Series,
    *,
    title: str,
    width: int = 460,
    height: int = 220,
    unit: str = "",
    label_every: int = 1,
    reference: tuple[str, float] | None = None,
) -> SafeString:
    """Return an SVG chart with one group of bars per label, one bar per series.

    `label_every` writes only every n-th label under the axis (e.g. hours);
    `reference` (name, value) draws a dashed line at that value (a capacity),
    the axis reaching it.
    """
    series = [series] if isinstance(series, Series) else list(series)
    left, right, top = 52.0, 8.0, 22.0 if len(series) > 1 or reference else 8.0
    bottom = 34.0
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max((float(v) for s in series for v in s.values if v is not None), default=0.0)
    top_value = _nice_max(max(peak, float(reference[1]) if reference else 0.0))
    body = _y_axis(left, top, plot_h, width - right, top_value, unit)
    group_w = plot_w / max(len(labels), 1)
    bar_w = max(group_w * 0.8 / max(len(series), 1), 1.0)
    for i, label in enumerate(labels):
        gx = left + i * group_w + group_w * 0.1
        for j, s in enumerate(series):
            value = s.values[i] if i < len(s.values) else None
            v = float(value or 0.0)
            h = plot_h * max(v, 0.0) / top_value
            color = s.color or PALETTE[j % len(PALETTE)]
            tip = f"{label} · {s.name} : {_fmt(value, unit)}" if len(series) > 1 else f"{label} : {_fmt(value, unit)}"
            body.append(
                f'<rect class="bar" data-label={quoteattr(str(label))} data-series={quoteattr(s.name)} '
                f'data-value="{v!r}" x="{_num(gx + j * bar_w)}" y="{_num(top + plot_h - h)}" '
                f'width="{_num(bar_w)}" height="{_num(h)}" fill="{color}"><title>{escape(tip)}</title></rect>'
            )
        if i % label_every == 0:
            body.append(
                f'<text x="{_num(left + (i + 0.5) * group_w)}" y="{_num(height - bottom + 14)}" '
                f'text-anchor="middle" fill="#333">{escape(str(label))}</text>'
            )
    if reference is not None:
        name, value = reference
        y = top + plot_h * (1 - max(float(value), 0.0) / top_value)
        text = f"{name} : {_fmt(value, unit)}"
        body.append(
            f'<line class="reference" data-value="{float(value)!r}" x1="{_num(left)}" y1="{_num(y)}" '
            f'x2="{_num(width - right)}" y2="{_num(y)}" stroke="{PALETTE[2]}" stroke-width="1.5" '
            f'stroke-dasharray="5 3"><title>{escape(text)}</title></line>'
            f'<text x="{_num(width - right)}" y="{_num(y - 4)}" text-anchor="end" fill="{PALETTE[2]}">'
            f"{escape(text)}</text>"
        )
    if len(series) > 1:
        body.extend(_legend(series, left, 12))
    return _svg(width, height, title, body)


def hbar_chart(
    labels: Sequence[str],
    values: Sequence[float],
    *,
    title: str,
    width: int = 460,
    row_height: int = 22,
    label_width: int = 170,
    color: str = PALETTE[0],
    unit: str = "",
) -> SafeString:
    """Return an SVG chart of horizontal bars, one row per label (longest bar: the largest value)."""
    height = row_height * max(len(labels), 1) + 8
    plot_w = width - label_width - 70
    peak = max((float(v) for v in values if v is not None), default=0.0)
    scale = plot_w / peak if peak > 0 else 0.0
    body = []
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        v = float(value or 0.0)
        y = 4 + i * row_height
        w = max(v, 0.0) * scale
        body.append(
            f'<text x="{label_width - 6}" y="{_num(y + row_height * 0.65)}" text-anchor="end" fill="#333">'
            f"{escape(str(label))}</text>"
            f'<rect class="bar" data-label={quoteattr(str(label))} data-value="{v!r}" x="{label_width}" '
            f'y="{_num(y + 3)}" width="{_num(w)}" height="{row_height - 6}" fill="{color}">'
            f"<title>{escape(f'{label} : {_fmt(value, unit)}')}</title></rect>"
            f'<text x="{_num(label_width + w + 4)}" y="{_num(y + row_height * 0.65)}" fill="#666">'
            f"{escape(_fmt(value, unit))}</text>"
        )
    return _svg(width, height, title, body)


def line_chart(
    labels: Sequence[str],
    series: Sequence[Series] | Series,
    *,
    title: str,
    width: int = 460,
    height: int = 220,
    unit: str = "",
    label_every: int = 1,
) -> SafeString:
    """Return an SVG line chart: one polyline per series, a point per label."""
    series = [series] if isinstance(series, Series) else list(series)
    left, right, top, bottom = 52.0, 12.0, 22.0 if len(series) > 1 else 10.0, 34.0
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max((float(v) for s in series for v in s.values if v is not None), default=0.0)
    top_value = _nice_max(peak)
    body = _y_axis(left, top, plot_h, width - right, top_value, unit)
    step = plot_w / max(len(labels) - 1, 1)
    for j, s in enumerate(series):
        color = s.color or PALETTE[j % len(PALETTE)]
        points, marks = [], []
        for i, value in enumerate(s.values[: len(labels)]):
            if value is None:
                continue
            x, y = left + i * step, top + plot_h * (1 - max(float(value), 0.0) / top_value)
            points.append(f"{_num(x)},{_num(y)}")
            marks.append(
                f'<circle class="point" data-label={quoteattr(str(labels[i]))} data-value="{float(value)!r}" '
                f'cx="{_num(x)}" cy="{_num(y)}" r="2.5" fill="{color}">'
                f"<title>{escape(f'{labels[i]} · {s.name} : {_fmt(value, unit)}')}</title></circle>"
            )
        body.append(
            f'<polyline class="line" data-series={quoteattr(s.name)} fill="none" stroke="{color}" '
            f'stroke-width="2" points="{" ".join(points)}"/>'
        )
        body.extend(marks)
    for i, label in enumerate(labels):
        if i % label_every == 0:
            body.append(
                f'<text x="{_num(left + i * step)}" y="{_num(height - bottom + 14)}" text-anchor="middle" '
                f'fill="#333">{escape(str(label))}</text>'
            )
    if len(series) > 1:
        body.extend(_legend(series, left, 12))
    return _svg(width, height, title, body)
