"""The waterfall's bar categories can be told apart without colour (greyscale print, colour blindness).

The increase (orange) and decrease (blue) bars have nearly the same grey level once printed in
greyscale (luma below). Each category other than the middle one therefore carries a white pattern
over its colour: diagonal stripes for an increase of 20 % or more, dots for a decrease of 30 % or
more. Checked in the SVG's geometry: every bar of those categories is covered exactly by its
pattern, the middle category by none, and the legend's swatches carry the same patterns.
"""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pandas as pd
import pytest

from NomogramScoreLib.chart import waterfall_svg
from ResponseSignatureLib.lesion_table import WATERFALL_CATEGORIES

NS = {"svg": "http://www.w3.org/2000/svg"}
TABLE = pd.DataFrame({
    "lesion_id": ["up", "flat", "down", "gone", "fresh"],
    "location": ["liver"] * 5,
    "status": ["matched", "matched", "matched", "disappeared", "new"],
    "baseline:longest_diameter_mm": [20.0, 30.0, 40.0, 12.0, 0.0],
    "followup:longest_diameter_mm": [30.0, 27.0, 20.0, 0.0, 9.0],
})
EXPECTED = {"up": "increase", "flat": "stable", "down": "decrease", "gone": "decrease"}  # +50, -10, -50, -100 %


def luma(colour: str) -> float:
    """Grey level (0-255) of a #rrggbb colour printed in greyscale (ITU-R BT.601 weights)."""
    red, green, blue = (int(colour[i:i + 2], 16) for i in (1, 3, 5))
    return 0.299 * red + 0.587 * green + 0.114 * blue


def box_of_path(d: str) -> tuple[float, ...]:
    """(x, y, width, height) of a rectangle path 'M x y h w v h h -w z'."""
    match = re.fullmatch(r"M(-?[\d.]+) (-?[\d.]+)h(-?[\d.]+)v(-?[\d.]+)h(-?[\d.]+)z", d)
    assert match, d
    x, y, width, height, back = (float(v) for v in match.groups())
    assert back == -width, d  # closed: back to the start
    return x, y, width, height


def box_of_rect(rect: ET.Element) -> tuple[float, ...]:
    return tuple(float(rect.get(name)) for name in ("x", "y", "width", "height"))


def pattern_of(root: ET.Element, fill: str) -> ET.Element:
    match = re.fullmatch(r"url\(#([\w-]+)\)", fill)
    assert match, fill
    pattern = root.find(f".//svg:defs/svg:pattern[@id='{match.group(1)}']", NS)
    assert pattern is not None, f"no pattern {match.group(1)}"
    return pattern


def cue(pattern: ET.Element | None) -> str:
    """What a pattern draws, read from its geometry: 'diagonal stripes', 'dots' or 'none'."""
    if pattern is None:
        return "none"
    marks = list(pattern)
    assert marks and all((m.get("stroke") or m.get("fill")) == "#ffffff" for m in marks)  # white over the colour
    if all(m.tag.endswith("circle") for m in marks):
        return "dots"
    angle = re.fullmatch(r"rotate\((-?[\d.]+)\)", pattern.get("patternTransform", "rotate(0)")).group(1)
    lines = [m for m in marks if m.tag.endswith("line")]
    vertical = all(m.get("x1") == m.get("x2") for m in lines)
    return "diagonal stripes" if lines and vertical and float(angle) % 90 != 0 else "other"


def test_increase_and_decrease_colours_alone_look_alike_in_greyscale():
    colours = {category.key: category.colour for category in WATERFALL_CATEGORIES}
    assert abs(luma(colours["increase"]) - luma(colours["decrease"])) < 40  # why the pattern is needed


def test_every_category_has_its_own_non_colour_cue_on_bars_and_legend():
    root = ET.fromstring(waterfall_svg(TABLE))
    hatches = {}
    for path in root.findall(".//svg:path[@class='waterfall-hatch'][@data-lesion]", NS):  # the legend's have none
        hatches.setdefault(path.get("data-lesion"), []).append(path)
    seen = {}
    for bar in root.findall(".//svg:rect[@class='waterfall-bar']", NS):
        lesion = bar.get("data-lesion")
        over = hatches.pop(lesion, [])
        assert len(over) <= 1
        if over:
            assert box_of_path(over[0].get("d")) == pytest.approx(box_of_rect(bar), abs=0.01)  # covers the bar exactly
            assert over[0].get("data-category") == EXPECTED[lesion]
        seen[lesion] = cue(pattern_of(root, over[0].get("fill")) if over else None)
    assert seen == {"up": "diagonal stripes", "flat": "none", "down": "dots", "gone": "dots"}
    assert not hatches, f"patterns without a bar: {list(hatches)}"

    legend = root.find(".//*[@id='waterfall-legend']")
    swatches = legend.findall("svg:rect", NS)
    over = {path.get("data-category"): path for path in legend.findall("svg:path[@class='waterfall-hatch']", NS)}
    assert [s.get("fill") for s in swatches] == [category.colour for category in WATERFALL_CATEGORIES]
    legend_cues = {}
    for category, swatch in zip(WATERFALL_CATEGORIES, swatches):
        path = over.get(category.key)
        if path is not None:
            assert box_of_path(path.get("d")) == pytest.approx(box_of_rect(swatch), abs=0.01)
        legend_cues[category.key] = cue(pattern_of(root, path.get("fill")) if path is not None else None)
    assert legend_cues == {"increase": "diagonal stripes", "stable": "none", "decrease": "dots"}
    assert len(set(legend_cues.values())) == len(WATERFALL_CATEGORIES)  # three categories, three cues
