"""The dashboard's SVG charts: well-formed XML, the right marks, gaps, titles and escaping."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from shipping.kpis import charts

SVG = "{http://www.w3.org/2000/svg}"


def parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    return root


def test_line_chart_draws_a_point_per_value_and_breaks_lines_at_gaps():
    svg = charts.line_chart(
        chart_id="otd",
        title="On-time delivery by day",
        x_labels=["1 Mar", "2 Mar", "3 Mar", "4 Mar", "5 Mar", "6 Mar"],
        series=[
            charts.LineSeries("OTD", [90.0, 92.5, None, 95.0, 96.0, 97.0]),
            charts.LineSeries("OTIF", [80.0, None, None, None, 85.0, None]),
        ],
        unit="%",
        y_bounds=(0, 100),
    )
    root = parse(svg)
    assert root.find(f"{SVG}title").text == "On-time delivery by day"
    assert root.get("role") == "img" and root.get("aria-labelledby") == "otd-title"
    groups = {g.get("data-series"): g for g in root.iter(f"{SVG}g") if g.get("data-series")}
    otd, otif = groups["OTD"], groups["OTIF"]
    assert len(otd.findall(f"{SVG}circle")) == 5
    assert len(otif.findall(f"{SVG}circle")) == 2
    # OTD: two runs (1-2 Mar, 4-6 Mar), so two paths; OTIF has no two neighbouring values.
    otd_paths = [p.get("d") for p in otd.findall(f"{SVG}path")]
    assert len(otd_paths) == 2
    assert otd_paths[0].count("L") == 1 and otd_paths[1].count("L") == 2
    assert otif.findall(f"{SVG}path") == []
    titles = [c.find(f"{SVG}title").text for c in otd.findall(f"{SVG}circle")]
    assert titles[0] == "OTD, 1 Mar: 90 %" and titles[1] == "OTD, 2 Mar: 92.5 %"


def test_line_chart_places_values_on_the_axis_in_order():
    svg = charts.line_chart(
        chart_id="c",
        title="t",
        x_labels=["a", "b", "c"],
        series=[charts.LineSeries("s", [10.0, 30.0, 20.0])],
    )
    circles = parse(svg).findall(f".//{SVG}circle")
    xs = [float(c.get("cx")) for c in circles]
    ys = [float(c.get("cy")) for c in circles]
    assert xs == sorted(xs) and len(set(xs)) == 3
    # SVG y grows downwards: the highest value is the smallest y.
    assert ys[1] < ys[2] < ys[0]


def test_line_chart_ticks_are_round_and_inside_the_bounds():
    svg = charts.line_chart(
        chart_id="c",
        title="t",
        x_labels=[f"d{n}" for n in range(40)],
        series=[charts.LineSeries("s", [95.0 + (n % 6) for n in range(40)])],
        unit="%",
        y_bounds=(0, 100),
    )
    root = parse(svg)
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert "100 %" in texts and "101 %" not in texts
    x_ticks = [t.text for t in root.iter(f"{SVG}text") if t.get("class") == "x-tick"]
    assert x_ticks[0] == "d0" and 2 <= len(x_ticks) <= 8


def test_nice_ticks():
    assert charts.nice_ticks(0, 100) == [0, 20, 40, 60, 80, 100]
    assert charts.nice_ticks(93.2, 98.7) == [92, 94, 96, 98, 100]
    assert charts.nice_ticks(5, 5) == [4.7, 4.8, 4.9, 5.0, 5.1, 5.2, 5.3]


def test_bar_chart_one_bar_per_slice_in_the_given_order_with_value_labels_and_links():
    bars = [
        charts.Bar("Carrier <B>", 50.0, note="2 counted", href="?late_by=carrier&late_key=B"),
        charts.Bar("Carrier A", 90.0, note="10 counted"),
        charts.Bar("Nobody", None),
    ]
    root = parse(
        charts.bar_chart(
            chart_id="bars", title="OTD by carrier", bars=bars, unit="%", max_value=100
        )
    )
    groups = [g for g in root.iter(f"{SVG}g") if g.get("class") == "bar"]
    assert len(groups) == 3
    rects = [g.find(f".//{SVG}rect") for g in groups]
    widths = [float(r.get("width")) for r in rects]
    assert widths[1] > widths[0] > widths[2] == 0
    assert widths[1] == pytest.approx(2 * widths[0] * 90 / 100, rel=0.01)
    values = [t.text for t in root.iter(f"{SVG}text") if t.get("class") == "bar-value"]
    assert values == ["50 %", "90 %", "no data"]
    assert rects[0].find(f"{SVG}title").text == "Carrier <B>: 50 % (2 counted)"
    link = groups[0].find(f"{SVG}a")
    assert link.get("href") == "?late_by=carrier&late_key=B"
    assert groups[1].find(f"{SVG}a") is None


def test_labels_are_escaped():
    hostile = '</text><script>alert("x")</script>&'
    line = charts.line_chart(
        chart_id='x" onload="alert(1)',
        title=hostile,
        x_labels=[hostile, "b"],
        series=[charts.LineSeries(hostile, [1.0, 2.0])],
    )
    bar = charts.bar_chart(
        chart_id="b",
        title=hostile,
        bars=[charts.Bar(hostile, 1.0, note=hostile, href='"><script>')],
    )
    for svg in (line, bar):
        root = parse(svg)  # still well-formed
        assert "<script" not in svg
        assert list(root.iter(f"{SVG}script")) == []
        assert root.find(f"{SVG}title").text == hostile
    assert parse(line).get("aria-labelledby") == 'x" onload="alert(1)-title'
    assert parse(bar).find(f".//{SVG}a").get("href") == '"><script>'


def test_long_labels_are_shortened_but_kept_whole_in_the_title():
    label = "A customer with a really very long trading name"
    root = parse(charts.bar_chart(chart_id="b", title="t", bars=[charts.Bar(label, 3.0)]))
    shown = [t.text for t in root.iter(f"{SVG}text") if t.get("class") != "bar-value"]
    assert shown == ["A customer with a really ve\u2026"]
    assert root.find(f".//{SVG}rect/{SVG}title").text == f"{label}: 3"


def test_empty_charts_say_so():
    for svg in (
        charts.line_chart(
            chart_id="e",
            title="t",
            x_labels=["a"],
            series=[charts.LineSeries("s", [None])],
        ),
        charts.bar_chart(chart_id="e", title="t", bars=[]),
    ):
        root = parse(svg)
        assert [t.text for t in root.iter(f"{SVG}text")] == ["No data for this period"]


def test_tick_labels_are_as_precise_as_their_step():
    svg = charts.line_chart(
        chart_id="c",
        title="t",
        x_labels=["a", "b"],
        series=[charts.LineSeries("s", [0.012, 0.018])],
        unit="h",
        y_bounds=(0, None),
    )
    ticks = [t.text for t in parse(svg).iter(f"{SVG}text") if t.get("class") == "y-tick"]
    assert ticks == ["0.012 h", "0.014 h", "0.016 h", "0.018 h"]
