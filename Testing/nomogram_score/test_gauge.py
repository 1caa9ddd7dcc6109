"""NomogramScoreLib.gauge parsed as XML: the gauge geometry (needle, CI bar, cut-off marker and its
label) and its three readings for both outcome directions in geometry and in text."""
from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET

import pytest

from NomogramScoreLib import gauge
from ResponseSignatureLib.models.outcome import COLOURS, declare_outcome, outcome_terms
from svg_helpers import NS, find_id, parse

BANDS = [{"name": "Low", "lower": 0.0, "upper": 0.2, "color": "#a9cfe8"},
         {"name": "Intermediate", "lower": 0.2, "upper": 0.55, "color": "#d6d6d6"},
         {"name": "High <&> \"risk\"", "lower": 0.55, "upper": 1.0, "color": "#f3c3a0"}]
UNFAVOURABLE = outcome_terms({"outcome": declare_outcome("pd", "progression at 6 months", True)})
FAVOURABLE = outcome_terms({"outcome": declare_outcome("resp", "objective response", False)})


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
