"""SVG pictures of NomogramScoreLib parsed as XML: the risk gauge geometry (needle angle, band
arcs, CI arc, threshold), the nomogram chart's scales and the waterfall plot."""
from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET

import pandas as pd
import pytest

from NomogramScoreLib import gauge, nomogram as nm
from NomogramScoreLib.chart import AXIS_WIDTH, LABEL_WIDTH, nomogram_svg, waterfall_svg
from NomogramScoreLib.demo import train_demo_nomogram

NS = {"svg": "http://www.w3.org/2000/svg"}
BANDS = [{"name": "Low", "lower": 0.0, "upper": 0.2, "color": "#2e7d32"},
         {"name": "Intermediate", "lower": 0.2, "upper": 0.55, "color": "#f9a825"},
         {"name": "High <&> \"risk\"", "lower": 0.55, "upper": 1.0, "color": "#c62828"}]


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def angle_of(x: float, y: float) -> float:
    """Angle (degrees, counter-clockwise from 3 o'clock) of an SVG point seen from the gauge centre."""
    return math.degrees(math.atan2(gauge.CY - y, x - gauge.CX))


def arc_ends(d: str) -> tuple[tuple[float, float], tuple[float, float], float, int]:
    """Start point, end point, radius and sweep flag of 'M x y A r r 0 large sweep x y'."""
    numbers = [float(v) for v in re.findall(r"-?\d+(?:\.\d+)?", d)]
    x0, y0, rx, ry, _, large, sweep, x1, y1 = numbers
    assert rx == ry and large == 0
    return (x0, y0), (x1, y1), rx, int(sweep)


def find_id(root: ET.Element, ident: str) -> ET.Element:
    found = root.find(f".//*[@id='{ident}']")
    assert found is not None, f"no element with id {ident}"
    return found


@pytest.mark.parametrize("risk", [0.0, 0.1, 0.25, 0.5, 0.73, 0.999, 1.0])
def test_needle_angle_is_180_minus_180_times_risk(risk):
    root = parse(gauge.risk_gauge_svg(risk, bands=BANDS))
    needle = find_id(root, "gauge-needle")
    assert float(needle.get("x1")) == gauge.CX and float(needle.get("y1")) == gauge.CY
    x2, y2 = float(needle.get("x2")), float(needle.get("y2"))
    assert angle_of(x2, y2) == pytest.approx(180.0 - 180.0 * risk, abs=0.05)
    assert math.hypot(x2 - gauge.CX, y2 - gauge.CY) == pytest.approx(gauge.NEEDLE, abs=0.02)
    assert float(needle.get("data-angle")) == pytest.approx(gauge.risk_angle(risk))


def test_bands_are_arcs_with_the_right_angular_extent_and_colour():
    root = parse(gauge.risk_gauge_svg(0.4, bands=BANDS))
    paths = root.findall(".//svg:path[@class='gauge-band']", NS)
    assert [p.get("data-name") for p in paths] == [b["name"] for b in BANDS]
    for path, band in zip(paths, BANDS):
        start, end, radius, sweep = arc_ends(path.get("d"))
        assert radius == pytest.approx(gauge.RADIUS)
        assert angle_of(*start) == pytest.approx(180 - 180 * band["lower"], abs=0.05)
        assert angle_of(*end) == pytest.approx(180 - 180 * band["upper"], abs=0.05)
        assert sweep == 1  # clockwise on screen: from the left over the top to the right
        assert path.get("stroke") == band["color"]
    # the whole dial is covered from 0 (left) to 1 (right)
    assert angle_of(*arc_ends(paths[0].get("d"))[0]) == pytest.approx(180, abs=0.05)
    assert abs(angle_of(*arc_ends(paths[-1].get("d"))[1])) == pytest.approx(0, abs=0.05)


def test_ci_arc_threshold_and_texts():
    root = parse(gauge.risk_gauge_svg(0.62, ci_low=0.48, ci_high=0.74, bands=BANDS, title="Risk of progression",
                                      threshold=0.35))
    start, end, radius, sweep = arc_ends(find_id(root, "gauge-ci").get("d"))
    assert radius == pytest.approx(gauge.CI_RADIUS) and radius < gauge.RADIUS - gauge.BAND_WIDTH / 2
    assert angle_of(*start) == pytest.approx(180 - 180 * 0.48, abs=0.05)
    assert angle_of(*end) == pytest.approx(180 - 180 * 0.74, abs=0.05)
    tick = find_id(root, "gauge-threshold")
    for x, y in ((tick.get("x1"), tick.get("y1")), (tick.get("x2"), tick.get("y2"))):
        assert angle_of(float(x), float(y)) == pytest.approx(180 - 180 * 0.35, abs=0.05)
    assert find_id(root, "gauge-value").text == "62 %"
    assert find_id(root, "gauge-band").text == 'High <&> "risk"'  # escaped in the file, intact when parsed
    assert find_id(root, "gauge-ci-text").text == "95 % CI 48 % – 74 %"
    assert find_id(root, "gauge-title").text == "Risk of progression"
    description = find_id(root, "gauge-desc").text
    assert "62 %" in description and "48 % to 74 %" in description and "35 %" in description
    assert root.get("role") == "img"


def test_gauge_without_ci_or_bands_and_bad_risk():
    root = parse(gauge.risk_gauge_svg(0.05))
    assert root.find(".//*[@id='gauge-ci']") is None and root.find(".//*[@id='gauge-threshold']") is None
    assert len(root.findall(".//svg:path[@class='gauge-band']", NS)) == 3  # default thirds
    assert find_id(root, "gauge-value").text == "5.0 %"
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
    points = tick_positions(find_id(root, "points-axis"))
    assert points["0"] == pytest.approx(LABEL_WIDTH) and points["100"] == pytest.approx(LABEL_WIDTH + AXIS_WIDTH)
    # a predictor value sits where its points are on the Points axis
    albumin_axis = find_id(root, "axis-1")
    for text, x in tick_positions(albumin_axis).items():
        expected = LABEL_WIDTH + nm.predictor_points(demo_model, demo_model["model"]["predictors"][1], float(text)) / 100 * AXIS_WIDTH
        assert x == pytest.approx(expected, abs=0.01)
    # risk ticks sit at the total points where the model predicts that risk
    top = nm.max_total_points(demo_model)
    for text, x in tick_positions(find_id(root, "risk-axis-0")).items():
        total = (x - LABEL_WIDTH) / AXIS_WIDTH * top
        assert nm.total_points_to_risk(demo_model, total) == pytest.approx(float(text), abs=1e-3)
    markers = root.findall(".//svg:circle[@class='patient-marker']", NS)
    assert len(markers) == 6  # five predictors + total points
    assert float(markers[-1].get("cx")) == pytest.approx(LABEL_WIDTH + result["total_points"] / top * AXIS_WIDTH, abs=0.01)


def test_cox_chart_has_one_risk_axis_per_time():
    from test_nomogram import small_cox

    root = parse(nomogram_svg(small_cox()))
    labels = [g.find("svg:text[@class='axis-label']", NS).text for g in root.findall(".//svg:g", NS)
              if "risk-axis" in (g.get("class") or "")]
    assert labels == ["Risk by 12 months", "Risk by 24 months"]


def test_waterfall_bars_sorted_with_reference_lines():
    table = pd.DataFrame({"lesion_id": ["a", "b", "c", "new"], "baseline:longest_diameter_mm": [20.0, 40.0, 10.0, None],
                          "followup:longest_diameter_mm": [25.0, 20.0, 0.0, 12.0]})
    root = parse(waterfall_svg(table))
    bars = root.findall(".//svg:rect[@class='waterfall-bar']", NS)
    assert [(b.get("data-lesion"), float(b.get("data-change"))) for b in bars] == [("a", 25.0), ("b", -50.0), ("c", -100.0)]
    lines = {float(line.get("data-value")): float(line.get("y1")) for line in root.findall(".//svg:line[@class='reference-line']", NS)}
    assert set(lines) == {20.0, -30.0}
    zero_y = float(bars[1].get("y"))  # top of a negative bar = the zero line
    assert lines[20.0] < zero_y < lines[-30.0]
    # bar height is proportional to the change: -100 % is twice -50 %
    assert float(bars[2].get("height")) == pytest.approx(2 * float(bars[1].get("height")), rel=1e-3)
