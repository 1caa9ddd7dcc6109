"""NomogramScoreLib.chart parsed as XML: the nomogram chart's scales (points, predictor and risk axes
against nomogram.py's own arithmetic), one risk axis per time named by the outcome direction, and
the waterfall plot (every lesion, new ones marked, legend, reference lines)."""
from __future__ import annotations

import xml.etree.ElementTree as ET

import pandas as pd
import pytest

from NomogramScoreLib import nomogram as nm
from NomogramScoreLib.chart import AXIS_WIDTH, BAR_COLOURS, LABEL_WIDTH, nomogram_svg, waterfall_svg
from NomogramScoreLib.demo import train_demo_nomogram
from nomogram_examples import small_cox
from ResponseSignatureLib.formatting import change_percent
from ResponseSignatureLib.models.outcome import declare_outcome
from svg_helpers import NS, find_id, parse


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
