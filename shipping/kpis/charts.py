"""Server-side SVG charts for the KPI dashboard: small pure functions returning SVG strings.

No script and nothing fetched from elsewhere, so the page works offline, prints as it shows and
needs no JavaScript library. Every label is escaped (customer and carrier names are typed by
people); every point and bar carries a <title>, which screen readers and hover tooltips read.
Values arrive in the unit they are shown in (percent, hours...), with that unit's symbol.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

# Series are told apart by dash pattern as well as colour, for readers who do not see colour.
_STROKES = (
    ("#1f6fb2", ""),
    ("#c2571a", "6 3"),
    ("#2e8540", "2 3"),
    ("#6f42c1", "8 3 2 3"),
)
_BAR_FILL = "#1f6fb2"
_GRID = "#d8dde3"
_TEXT = "#333"
_FONT = 'font-family="system-ui, sans-serif" font-size="11"'
_MAX_X_TICKS = 8
_LABEL_CHARACTERS = 28


@dataclass(frozen=True)
class LineSeries:
    """One line: a value per x label, None where there is no data (drawn as a gap)."""

    name: str
    values: Sequence[float | None]


@dataclass(frozen=True)
class Bar:
    label: str
    value: float | None
    note: str = ""  # e.g. "120 deliveries", shown in the bar's title
    href: str | None = None  # the bar links here (e.g. the late deliveries behind it)


def _text(value: str) -> str:
    return escape(value, quote=True)


def _shorten(label: str) -> str:
    if len(label) <= _LABEL_CHARACTERS:
        return label
    return label[: _LABEL_CHARACTERS - 1] + "\u2026"


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering [low, high] in about `count` steps of 1, 2 or 5 times a
    power of ten."""
    if high < low:
        low, high = high, low
    if math.isclose(low, high):
        pad = abs(low) * 0.05 or 1.0
        low, high = low - pad, high + pad
    raw = (high - low) / max(count, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    first = math.floor(low / step + 1e-9) * step
    last = math.ceil(high / step - 1e-9) * step
    ticks = []
    tick = first
    while tick <= last + step / 2:
        ticks.append(round(tick, 10))
        tick += step
    return ticks


def _open(chart_id: str, title: str, width: int, height: int) -> list[str]:
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'class="kpi-chart" role="img" aria-labelledby="{_text(chart_id)}-title">',
        f'<title id="{_text(chart_id)}-title">{_text(title)}</title>',
    ]


def _empty(chart_id: str, title: str, width: int, height: int) -> str:
    parts = _open(chart_id, title, width, height)
    parts.append(
        f'<text x="{width / 2}" y="{height / 2}" text-anchor="middle" fill="{_TEXT}" '
        f"{_FONT}>No data for this period</text>"
    )
    parts.append("</svg>")
    return "".join(parts)


def line_chart(
    *,
    chart_id: str,
    title: str,
    x_labels: Sequence[str],
    series: Sequence[LineSeries],
    unit: str = "",
    y_bounds: tuple[float | None, float | None] = (None, None),
    width: int = 720,
    height: int = 260,
) -> str:
    """A line chart with one line per series over the x labels (dates), y axis ticks, a legend
    and a titled circle per point. Runs of values are joined; a None breaks the line.

    `y_bounds` clamps the axis (e.g. (0, 100) for percentages): the axis spans the data,
    rounded out to ticks, never beyond the bounds.
    """
    values = [v for line in series for v in line.values if v is not None]
    if not values or not x_labels:
        return _empty(chart_id, title, width, height)
    floor, ceiling = y_bounds
    ticks = nice_ticks(min(values), max(values))
    if floor is not None:
        ticks = [tick for tick in ticks if tick >= floor] or [floor]
    if ceiling is not None:
        ticks = [tick for tick in ticks if tick <= ceiling] or [ceiling]
    low = min(ticks[0], min(values))
    high = max(ticks[-1], max(values))
    if math.isclose(low, high):
        high = low + 1.0
    left, right, top, bottom = 56, 30, 30, 30
    # Tick labels as precise as the step between them, so no two read the same.
    step = ticks[1] - ticks[0] if len(ticks) > 1 else 1.0
    decimals = max(0, -math.floor(math.log10(step))) if step < 1 else 0
    plot_width, plot_height = width - left - right, height - top - bottom

    def x_at(index: int) -> float:
        if len(x_labels) == 1:
            return left + plot_width / 2
        return left + plot_width * index / (len(x_labels) - 1)

    def y_at(value: float) -> float:
        return top + plot_height * (high - value) / (high - low)

    parts = _open(chart_id, title, width, height)
    # Y axis: grid lines and labels.
    for tick in ticks:
        y = y_at(tick)
        parts.append(
            f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="{_GRID}" stroke-width="1"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" fill="{_TEXT}" '
            f'class="y-tick" {_FONT}>'
            f"{_text(f'{tick:.{decimals}f} {unit}'.strip())}</text>"
        )
    # X axis: at most a handful of evenly spaced labels, always the first.
    every = max(1, math.ceil(len(x_labels) / _MAX_X_TICKS))
    baseline = top + plot_height
    parts.append(
        f'<line x1="{left}" x2="{width - right}" y1="{baseline}" y2="{baseline}" '
        f'stroke="{_TEXT}" stroke-width="1"/>'
    )
    for index in range(0, len(x_labels), every):
        x = x_at(index)
        parts.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{baseline}" y2="{baseline + 4}" '
            f'stroke="{_TEXT}"/>'
            f'<text x="{x:.1f}" y="{baseline + 16}" text-anchor="middle" fill="{_TEXT}" '
            f'class="x-tick" {_FONT}>{_text(x_labels[index])}</text>'
        )
    # Lines, points and the legend.
    for number, line in enumerate(series):
        colour, dashes = _STROKES[number % len(_STROKES)]
        dash = f' stroke-dasharray="{dashes}"' if dashes else ""
        segments: list[list[tuple[float, float]]] = [[]]
        points = []
        for index, value in enumerate(line.values[: len(x_labels)]):
            if value is None:
                segments.append([])
                continue
            point = (x_at(index), y_at(value))
            segments[-1].append(point)
            label = f"{line.name}, {x_labels[index]}: {format_number(value, unit)}"
            points.append(
                f'<circle cx="{point[0]:.1f}" cy="{point[1]:.1f}" r="2.5" fill="{colour}">'
                f"<title>{_text(label)}</title></circle>"
            )
        parts.append(f'<g class="series" data-series="{_text(line.name)}">')
        for segment in segments:
            if len(segment) > 1:
                path = " ".join(
                    f"{'M' if i == 0 else 'L'}{x:.1f},{y:.1f}" for i, (x, y) in enumerate(segment)
                )
                parts.append(
                    f'<path d="{path}" fill="none" stroke="{colour}" stroke-width="2"{dash}/>'
                )
        parts.extend(points)
        parts.append("</g>")
        legend_x = left + number * 170
        parts.append(
            f'<line x1="{legend_x}" x2="{legend_x + 22}" y1="12" y2="12" stroke="{colour}" '
            f'stroke-width="2"{dash}/>'
            f'<text x="{legend_x + 28}" y="16" fill="{_TEXT}" {_FONT}>{_text(line.name)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def bar_chart(
    *,
    chart_id: str,
    title: str,
    bars: Sequence[Bar],
    unit: str = "",
    max_value: float | None = None,
    width: int = 720,
) -> str:
    """Horizontal bars in the order given (the caller puts the worst first), each labelled with
    its name on the left and its value at its end. Bars with an href are links. The scale
    runs from 0 to `max_value` (e.g. 100 for percentages) or to the largest value."""
    if not bars:
        return _empty(chart_id, title, width, 80)
    row, top, label_width, value_width = 22, 8, 190, 80
    height = top * 2 + row * len(bars)
    largest = max((bar.value for bar in bars if bar.value is not None), default=0.0)
    scale = max(max_value or 0.0, largest) or 1.0
    bar_area = width - label_width - value_width
    parts = _open(chart_id, title, width, height)
    for index, bar in enumerate(bars):
        y = top + index * row
        length = bar_area * max(bar.value or 0.0, 0.0) / scale
        shown = "no data" if bar.value is None else format_number(bar.value, unit)
        described = f"{bar.label}: {shown}" + (f" ({bar.note})" if bar.note else "")
        body = (
            f'<rect x="{label_width}" y="{y + 3}" width="{length:.1f}" height="{row - 6}" '
            f'fill="{_BAR_FILL}"><title>{_text(described)}</title></rect>'
            f'<text x="{label_width - 6}" y="{y + row / 2 + 4}" text-anchor="end" '
            f'fill="{_TEXT}" {_FONT}>{_text(_shorten(bar.label))}</text>'
            f'<text x="{label_width + length + 6:.1f}" y="{y + row / 2 + 4}" fill="{_TEXT}" '
            f'class="bar-value" {_FONT}>{_text(shown)}</text>'
        )
        if bar.href:
            body = f'<a href="{_text(bar.href)}" class="bar-link">{body}</a>'
        parts.append(f'<g class="bar">{body}</g>')
    parts.append("</svg>")
    return "".join(parts)


def format_number(value: float, unit: str = "") -> str:
    """`value` to one decimal (none when whole), with its unit after a space."""
    number = f"{value:.1f}".removesuffix(".0")
    return f"{'0' if number == '-0' else number} {unit}".strip()
