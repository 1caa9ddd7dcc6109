"""SVG pictures of NomogramScoreLib parsed as XML: the gauge geometry (needle, CI bar, cut-off
marker and its label), its three readings for both outcome directions in geometry and in text,
the nomogram chart's scales and the waterfall plot (every lesion, new ones marked, legend)."""
from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET

import pandas as pd
import pytest

from NomogramScoreLib import gauge, nomogram as nm
from NomogramScoreLib.chart import AXIS_WIDTH, BAR_COLOURS, LABEL_WIDTH, nomogram_svg, waterfall_svg
from NomogramScoreLib.demo import train_demo_nomogram
from ResponseSignatureLib.formatting import change_percent
from ResponseSignatureLib.models.outcome import COLOURS, declare_outcome, outcome_terms

NS = {"svg": "http://www.w3.org/2000/svg"}
BANDS = [{"name": "Low", "lower": 0.0, "upper": 0.2, "color": "#a9cfe8"},
         {"name": "Intermediate", "lower": 0.2, "upper": 0.55, "color": "#d6d6d6"},
         {"name": "High <&> \"risk\"", "lower": 0.55, "upper": 1.0, "color": "#f3c3a0"}]
UNFAVOURABLE = outcome_terms({"outcome": declare_outcome("pd", "progression at 6 months", True)})
FAVOURABLE = outcome_terms({"outcome": declare_outcome("resp", "objective response", False)})


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def find_id(root: ET.Element, ident: str) -> ET.Element:
    found = root.find(f".//*[@id='{ident}']")
    assert found is not None, f"no element with id {ident}"
    return found


def centre(root: ET.Element) -> tuple[float, float]:
    hub = find_id(root, "gauge-hub")
    return float(hub.get("cx")), float(hub.get("cy"))


def polar_of(root: ET.Element, x: float, y: float) -> tuple[float, float]:
    """(angle in degrees counter-clockwise from 3 o'clock, radius) of an SVG point around the hub."""
    cx, cy = centre(root)
    return math.degrees(math.atan2(cy - y, x - cx)), math.hypot(x - cx, y - cy)


def points(element: ET.Element) -> list[tuple[float, float]]:
    values = [float(v) for v in re.split(r"[ ,]+", element.get("points").strip())]
    return list(zip(values[::2], values[1::2]))


def arc_ends(d: str) -> tuple[tuple[float, float], tuple[float, float], float, int]:
    """Start point, end point, radius and sweep flag of 'M x y A r r 0 large sweep x y'."""
    numbers = [float(v) for v in re.findall(r"-?\d+(?:\.\d+)?", d)]
    x0, y0, rx, ry, _, large, sweep, x1, y1 = numbers
    assert rx == ry and large == 0
    return (x0, y0), (x1, y1), rx, int(sweep)


def all_text(root: ET.Element) -> str:
    return " ".join(" ".join(element.itertext()) for element in root.iter()
                    if element.tag.split("}")[-1] in ("text", "title", "desc"))


def luminance(colour: str) -> float:
    red, green, blue = (int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5))
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


# --------------------------------------------------------------------------------------------
# geometry
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("risk", [0.0, 0.1, 0.25, 0.5, 0.73, 0.999, 1.0])
def test_needle_and_estimate_sit_at_180_minus_180_times_risk(risk):
    root = parse(gauge.risk_gauge_svg(risk, bands=BANDS))
    needle = find_id(root, "gauge-needle")
    tip = points(needle)[1]  # base, tip, base
    angle, radius = polar_of(root, *tip)
    assert angle == pytest.approx(180.0 - 180.0 * risk, abs=0.05)
    assert radius == pytest.approx(gauge.NEEDLE, abs=0.02)
    assert float(needle.get("data-angle")) == pytest.approx(gauge.risk_angle(risk))
    diamond = points(find_id(root, "gauge-estimate"))
    mid = ((diamond[0][0] + diamond[2][0]) / 2, (diamond[0][1] + diamond[2][1]) / 2)
    angle, radius = polar_of(root, *mid)
    assert angle == pytest.approx(180.0 - 180.0 * risk, abs=0.05) and radius == pytest.approx(gauge.RADIUS, abs=0.02)


def test_bands_are_arcs_with_the_right_angular_extent_and_colour():
    root = parse(gauge.risk_gauge_svg(0.4, bands=BANDS))
    paths = root.findall(".//svg:path[@class='gauge-band']", NS)
    assert len(paths) == len(BANDS)
    for path, band in zip(paths, BANDS):
        start, end, radius, sweep = arc_ends(path.get("d"))
        assert radius == pytest.approx(gauge.RADIUS)
        assert polar_of(root, *start)[0] == pytest.approx(180 - 180 * band["lower"], abs=0.05)
        assert polar_of(root, *end)[0] == pytest.approx(180 - 180 * band["upper"], abs=0.05)
        assert sweep == 1  # clockwise on screen: from the left over the top to the right
        assert path.get("stroke") == band["color"]
    assert 'High <&> "risk"' not in all_text(root)  # zone names are not shown; the reading is


def test_ci_bar_cut_off_marker_and_label_at_the_marker():
    root = parse(gauge.risk_gauge_svg(0.62, ci_low=0.48, ci_high=0.74, bands=BANDS, threshold=0.35, terms=UNFAVOURABLE))
    start, end, radius, _ = arc_ends(find_id(root, "gauge-ci").get("d"))
    assert radius == pytest.approx(gauge.CI_RADIUS)
    assert polar_of(root, *start)[0] == pytest.approx(180 - 180 * 0.48, abs=0.05)
    assert polar_of(root, *end)[0] == pytest.approx(180 - 180 * 0.74, abs=0.05)
    caps = root.findall(".//svg:line[@class='gauge-ci-cap']", NS)
    assert sorted(round(polar_of(root, float(c.get("x1")), float(c.get("y1")))[0], 1) for c in caps) == \
        sorted([round(180 - 180 * 0.74, 1), round(180 - 180 * 0.48, 1)])
    line = find_id(root, "gauge-threshold-line")
    for x, y in ((line.get("x1"), line.get("y1")), (line.get("x2"), line.get("y2"))):
        assert polar_of(root, float(x), float(y))[0] == pytest.approx(180 - 180 * 0.35, abs=0.05)
    tip = points(find_id(root, "gauge-threshold-marker"))[0]
    angle, radius = polar_of(root, *tip)
    assert angle == pytest.approx(180 - 180 * 0.35, abs=0.05) and radius > gauge.OUTER  # outside the dial
    label = find_id(root, "gauge-threshold-text")
    assert " ".join(label.itertext()) == "cut-off 35 %"
    assert math.dist((float(label.get("x")), float(label.get("y"))), tip) < 36  # the label is at the marker
    assert "".join(find_id(root, "gauge-value").itertext()) == "62 %"
    assert "".join(find_id(root, "gauge-ci-text").itertext()) == "95 % CI 48 to 74 %"


def test_needle_ci_and_cut_off_differ_in_shape_and_dash_not_only_colour():
    root = parse(gauge.risk_gauge_svg(0.48, 0.32, 0.65, bands=BANDS, threshold=0.49, terms=UNFAVOURABLE))
    needle, ci, cut = find_id(root, "gauge-needle"), find_id(root, "gauge-ci"), find_id(root, "gauge-threshold-line")
    signatures = {(e.tag, e.get("stroke-dasharray"), e.get("stroke-width")) for e in (needle, ci, cut)}
    assert len(signatures) == 3
    assert cut.get("stroke-dasharray") and not needle.get("stroke-dasharray") and not ci.get("stroke-dasharray")
    assert needle.tag.endswith("polygon") and ci.tag.endswith("path") and float(ci.get("stroke-width")) >= 6
    # in greyscale all three are dark marks on light zones
    for colour in (needle.get("fill"), ci.get("stroke"), cut.get("stroke")):
        assert luminance(colour) < 0.25
    for band in root.findall(".//svg:path[@class='gauge-band']", NS):
        assert luminance(band.get("stroke")) > 0.6
    # the needle ends inside the dial, the cut-off line starts at its inner edge: they never overlap
    assert gauge.NEEDLE < gauge.INNER - 5
    assert polar_of(root, float(cut.get("x1")), float(cut.get("y1")))[1] == pytest.approx(gauge.INNER - 5, abs=0.02)


# --------------------------------------------------------------------------------------------
# the three readings, both directions
# --------------------------------------------------------------------------------------------

READINGS = [  # risk, ci_low, ci_high, cut-off, reading
    (0.48, 0.32, 0.65, 0.49, "indeterminate"),
    (0.80, 0.66, 0.90, 0.49, "above"),
    (0.12, 0.05, 0.25, 0.49, "below"),
    (0.55, 0.49, 0.61, 0.49, "above"),  # CI low exactly at the cut-off: positive when >= cut-off
]


@pytest.mark.parametrize("risk, low, high, cut, expected", READINGS)
@pytest.mark.parametrize("terms", [UNFAVOURABLE, FAVOURABLE], ids=["unfavourable", "favourable"])
def test_three_readings_in_geometry_and_text(risk, low, high, cut, expected, terms):
    root = parse(gauge.risk_gauge_svg(risk, low, high, bands=BANDS, threshold=cut, terms=terms))
    # geometry: where the CI bar lies relative to the cut-off line (angles fall as values rise)
    start, end, _, _ = arc_ends(find_id(root, "gauge-ci").get("d"))
    low_angle, high_angle = polar_of(root, *start)[0], polar_of(root, *end)[0]
    line = find_id(root, "gauge-threshold-line")
    cut_angle = polar_of(root, float(line.get("x1")), float(line.get("y1")))[0]
    geometric = ("above" if low_angle <= cut_angle + 0.02 else "below" if high_angle > cut_angle + 0.02
                 else "indeterminate")  # 0.02 degrees: coordinates are written with 2 decimals
    assert geometric == expected
    # text: the same reading in words, in its colour
    reading = find_id(root, "gauge-reading")
    words = " ".join(reading.itertext()).replace("\u00a0", " ")
    assert reading.get("data-reading") == expected
    text = all_text(root).replace("\u00a0", " ")
    if expected == "indeterminate":
        assert "Indeterminate — the 95 % CI spans the cut-off (49 %)" in words
        assert reading.get("fill") == COLOURS["indeterminate"]
        assert not re.search(r"\b(high|low) risk\b", text, re.IGNORECASE)
    elif terms is UNFAVOURABLE:
        assert words.startswith("High risk" if expected == "above" else "Low risk")
        assert reading.get("fill") == COLOURS["unfavourable" if expected == "above" else "favourable"]
    else:
        assert words.startswith(("Higher" if expected == "above" else "Lower") + " probability of objective response")
        assert reading.get("fill") == COLOURS["favourable" if expected == "above" else "unfavourable"]
    if terms is FAVOURABLE:
        assert "risk" not in text.lower()
        assert find_id(root, "gauge-title").text == "Probability of objective response"
    else:
        assert find_id(root, "gauge-title").text == "Risk of progression at 6 months"


def test_gauge_without_ci_bands_or_direction_and_bad_risk():
    root = parse(gauge.risk_gauge_svg(0.05))
    assert root.find(".//*[@id='gauge-ci']") is None and root.find(".//*[@id='gauge-threshold']") is None
    assert root.find(".//*[@id='gauge-reading']") is None  # no cut-off, no reading
    assert len(root.findall(".//svg:path[@class='gauge-band']", NS)) == 3  # default thirds
    assert "".join(find_id(root, "gauge-value").itertext()) == "5.0 %"
    unstated = outcome_terms({"model": {"outcome": {"name": "x", "label": "Risk of progression"}}})  # an older file
    root = parse(gauge.risk_gauge_svg(0.7, 0.6, 0.8, threshold=0.5, terms=unstated))
    assert find_id(root, "gauge-title").text == "Probability of progression"
    assert "not stated" in "".join(find_id(root, "gauge-note").itertext())
    assert " ".join(find_id(root, "gauge-reading").itertext()).replace("\u00a0", " ").startswith("The whole 95 % CI is above the cut-off")
    with pytest.raises(ValueError, match="between 0 and 1"):
        gauge.risk_gauge_svg(1.2)
    with pytest.raises(ValueError):
        gauge.risk_gauge_svg(float("nan"))
    hostile = [{"name": "x", "lower": 0.0, "upper": 1.0, "color": "red\" onload=\"alert(1)"}]
    assert "onload" not in gauge.risk_gauge_svg(0.5, bands=hostile)


# --------------------------------------------------------------------------------------------
# nomogram chart and waterfall
# --------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def demo_model():
    return train_demo_nomogram(n=200)


def tick_positions(group: ET.Element) -> dict[str, float]:
    labels = group.findall("svg:text[@class='tick-label']", NS)
    return {label.text: float(label.get("x")) for label in labels}


def test_nomogram_chart_scales(demo_model):
    result = nm.score_patient(demo_model, {"signature_score": 0.64, "albumin": 34, "lymphocytes": 1.1, "cea": 42,
                                           "stage": "IV"})
    root = parse(nomogram_svg(demo_model, result))
    points_axis = tick_positions(find_id(root, "points-axis"))
    assert points_axis["0"] == pytest.approx(LABEL_WIDTH) and points_axis["100"] == pytest.approx(LABEL_WIDTH + AXIS_WIDTH)
    albumin_axis = find_id(root, "axis-1")
    for text, x in tick_positions(albumin_axis).items():
        expected = LABEL_WIDTH + nm.predictor_points(demo_model, demo_model["model"]["predictors"][1], float(text)) / 100 * AXIS_WIDTH
        assert x == pytest.approx(expected, abs=0.01)
    top = nm.max_total_points(demo_model)
    risk_axis = find_id(root, "risk-axis-0")
    assert risk_axis.find("svg:text[@class='axis-label']", NS).text == "Risk"  # the demo outcome is unfavourable
    for text, x in tick_positions(risk_axis).items():
        total = (x - LABEL_WIDTH) / AXIS_WIDTH * top
        assert nm.total_points_to_risk(demo_model, total) == pytest.approx(float(text), abs=1e-3)
    markers = root.findall(".//svg:circle[@class='patient-marker']", NS)
    assert len(markers) == 6  # five predictors + total points
    assert float(markers[-1].get("cx")) == pytest.approx(LABEL_WIDTH + result["total_points"] / top * AXIS_WIDTH, abs=0.01)


def test_cox_chart_has_one_axis_per_time_named_by_the_direction():
    from test_nomogram import small_cox

    def labels(model):
        root = parse(nomogram_svg(model))
        return [g.find("svg:text[@class='axis-label']", NS).text for g in root.findall(".//svg:g", NS)
                if "risk-axis" in (g.get("class") or "")]

    model = small_cox()
    assert labels(model) == ["Probability by 12 months", "Probability by 24 months"]  # direction not stated
    declared = {**model, "outcome": declare_outcome("event", "death", True)}
    assert labels(declared) == ["Risk by 12 months", "Risk by 24 months"]
    assert nm.outcome_heading(declared) == f"Risk of death by {model['model']['time']:g} months"


WATERFALL = pd.DataFrame({
    "lesion_id": ["a", "b", "c", "gone", "fresh", "node"],
    "location": ["liver", "liver", "lung", "liver", "liver", "node"],
    "status": ["matched", "matched", "matched", "disappeared", "new", "matched"],
    "baseline:longest_diameter_mm": [20.0, 40.0, 10.0, 12.0, 0.0, 25.0],
    "followup:longest_diameter_mm": [25.0, 20.0, 8.0, 0.0, 12.0, 30.0],
    "baseline:short_axis_mm": [15.0, 30.0, 8.0, 10.0, 0.0, 17.42],
    "followup:short_axis_mm": [18.0, 15.0, 6.0, 0.0, 9.0, 17.47],
})


def test_waterfall_shows_every_lesion_new_ones_marked_with_a_legend():
    root = parse(waterfall_svg(WATERFALL))
    bars = root.findall(".//svg:rect[@class='waterfall-bar']", NS)
    changes = [(b.get("data-lesion"), float(b.get("data-change"))) for b in bars]
    node_change = 100 * (17.47 - 17.42) / 17.42  # lymph node: short axis
    assert changes == [("a", 25.0), ("node", pytest.approx(node_change, rel=1e-3)), ("c", -20.0), ("b", -50.0),
                       ("gone", -100.0)]
    new = root.findall(".//svg:g[@class='waterfall-new']", NS)
    assert [g.get("data-lesion") for g in new] == ["fresh"]  # a marker, not a bar of 0 %
    assert "NEW" in " ".join(new[0].itertext())
    names = [t.text for t in root.findall(".//svg:text[@class='waterfall-label']", NS)]
    assert names == ["fresh", "a", "node", "c", "b", "gone"]  # every lesion, new first
    values = [t.text for t in root.findall(".//svg:text[@class='waterfall-value']", NS)]
    assert values == [change_percent(c) for _, c in changes]  # rounded like the report's table
    assert values[1] == "+0.3 %"
    legend = find_id(root, "waterfall-legend")
    legend_colours = {r.get("fill") for r in legend.findall("svg:rect", NS)}
    assert {b.get("fill") for b in bars} <= legend_colours == {colour for _, colour in BAR_COLOURS}
    assert "new lesion" in " ".join(legend.itertext())
    lines = {float(line.get("data-value")): float(line.get("y1")) for line in root.findall(".//svg:line[@class='reference-line']", NS)}
    assert set(lines) == {20.0, -30.0}
    zero_y = float(bars[-1].get("y"))  # top of a negative bar = the zero line
    assert lines[20.0] < zero_y < lines[-30.0]
    # bar height is proportional to the change: -100 % is twice -50 %
    assert float(bars[-1].get("height")) == pytest.approx(2 * float(bars[-2].get("height")), rel=1e-3)
