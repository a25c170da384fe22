"""An SVG picture of a route plan: routes over the stop coordinates, depot and dropped stops."""

from __future__ import annotations

import math
from dataclasses import dataclass
from html import escape

PALETTE = [
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#17becf",
    "#bcbd22",
    "#393b79",
    "#637939",
    "#8c6d31",
    "#843c39",
    "#7b4173",
    "#3182bd",
    "#31a354",
    "#756bb1",
]


@dataclass(frozen=True)
class MapPoint:
    latitude: float
    longitude: float
    label: str


@dataclass(frozen=True)
class MapRoute:
    name: str
    stops: list[MapPoint]


def render_plan_svg(
    *,
    depot: MapPoint,
    routes: list[MapRoute],
    dropped: list[MapPoint],
    width: int = 720,
    height: int = 540,
    margin: int = 24,
) -> str:
    """Routes drawn depot -> stops -> depot, one colour each; dropped stops as red crosses."""
    points = [depot, *dropped, *(p for route in routes for p in route.stops)]
    mid_lat = math.radians(sum(p.latitude for p in points) / len(points))
    # Equirectangular projection: good enough at city scale, keeps the picture undistorted.
    xs = [p.longitude * math.cos(mid_lat) for p in points]
    ys = [p.latitude for p in points]
    span = max(max(xs) - min(xs), max(ys) - min(ys), 1e-6)
    scale = min(width - 2 * margin, height - 2 * margin) / span
    x0, y0 = min(xs), max(ys)

    def project(point: MapPoint) -> tuple[float, float]:
        x = margin + (point.longitude * math.cos(mid_lat) - x0) * scale
        y = margin + (y0 - point.latitude) * scale
        return round(x, 1), round(y, 1)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-label="Route plan map" '
        'style="background:#fafafa;border:1px solid #ddd;font-family:sans-serif">'
    ]
    for index, route in enumerate(routes):
        colour = PALETTE[index % len(PALETTE)]
        path = [project(depot), *(project(p) for p in route.stops), project(depot)]
        coordinates = " ".join(f"{x},{y}" for x, y in path)
        parts.append(
            f'<polyline points="{coordinates}" fill="none" stroke="{colour}" stroke-width="2" '
            f'stroke-opacity="0.85"><title>{escape(route.name)}</title></polyline>'
        )
        for number, stop in enumerate(route.stops, start=1):
            x, y = project(stop)
            parts.append(
                f'<circle cx="{x}" cy="{y}" r="4" fill="{colour}">'
                f"<title>{escape(route.name)} stop {number}: {escape(stop.label)}</title></circle>"
            )
    for stop in dropped:
        x, y = project(stop)
        parts.append(
            f'<g stroke="#d62728" stroke-width="2.5"><title>Unplanned: {escape(stop.label)}</title>'
            f'<line x1="{x - 5}" y1="{y - 5}" x2="{x + 5}" y2="{y + 5}"/>'
            f'<line x1="{x - 5}" y1="{y + 5}" x2="{x + 5}" y2="{y - 5}"/></g>'
        )
    x, y = project(depot)
    parts.append(
        f'<rect x="{x - 7}" y="{y - 7}" width="14" height="14" fill="#000">'
        f"<title>Depot: {escape(depot.label)}</title></rect>"
    )
    legend_y = height - margin // 2
    parts.append(
        f'<text x="{margin}" y="{legend_y}" font-size="11" fill="#444">'
        f"{len(routes)} routes · ■ depot · ✕ unplanned ({len(dropped)})</text>"
    )
    parts.append("</svg>")
    return "".join(parts)
