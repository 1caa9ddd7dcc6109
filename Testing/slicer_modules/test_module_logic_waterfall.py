"""The Response Signature module's waterfall chart, on real MRML plot nodes (slicer-core, headless).

Like the report's waterfall it shows every lesion: new lesions marked as new (a marker series on
the zero line, never a bar: a new lesion has no percent change), disappeared lesions at -100 %,
one bar series per change category with the report's colours and legend words (series names are
the chart's legend), and no missing value in any plotted column (a NaN bar is not drawn as
anything a reader can see). Expected changes are computed here from the table's diameters.
"""
from __future__ import annotations

import math

import pandas as pd
import pytest

pytest.importorskip("slicer", reason="slicer-core (headless MRML) is not installed")

import slicer_app_standins  # noqa: E402

TABLE = pd.DataFrame({
    "patient_id": ["P1"] * 6,
    "lesion_id": ["grows", "shrinks", "steady", "gone", "fresh", "node"],
    "location": ["liver", "liver", "lung", "liver", "liver", "node"],
    "status": ["matched", "matched", "matched", "disappeared", "new", "matched"],
    "baseline:longest_diameter_mm": [20.0, 40.0, 10.0, 12.0, 0.0, 25.0],
    "followup:longest_diameter_mm": [25.0, 20.0, 9.0, 0.0, 12.0, 40.0],
    "baseline:short_axis_mm": [15.0, 30.0, 8.0, 10.0, 0.0, 16.0],
    "followup:short_axis_mm": [18.0, 15.0, 6.0, 0.0, 9.0, 12.0],
})
# percent change of the RECIST diameter: longest diameter, short axis for the lymph node
EXPECTED = {"grows": 25.0, "shrinks": -50.0, "steady": -10.0, "gone": -100.0, "node": 100 * (12 - 16) / 16}
COLOURS = {"+20 % or more": (0xd5, 0x5e, 0x00), "-30 % to +20 %": (0x9e, 0x9e, 0x9e), "-30 % or less": (0x00, 0x72, 0xb2)}


@pytest.fixture(scope="module")
def module(tmp_path_factory):
    slicer = slicer_app_standins.install(str(tmp_path_factory.mktemp("slicer-cache")))
    loaded = slicer_app_standins.load_module_file("ResponseSignature")
    yield loaded
    slicer.app.testing = True


def column(table_node, name: str) -> list:
    array = table_node.GetTable().GetColumnByName(name)
    assert array is not None, f"no column {name}"
    return [array.GetValue(i) for i in range(array.GetNumberOfValues())]


def chart_of(module, table: pd.DataFrame):
    import slicer

    from ResponseSignatureLib import mrml_bridge

    lesion_node = mrml_bridge.table_node_from_dataframe(slicer.mrmlScene, table, name="P1 lesion table")
    chart = module.ResponseSignatureLogic().createWaterfallChart(table, lesion_node)
    return lesion_node, chart


def test_every_lesion_is_shown_new_ones_as_markers_with_a_legend(module):
    import slicer

    lesion_node, chart = chart_of(module, TABLE)
    series = [chart.GetNthPlotSeriesNode(i) for i in range(chart.GetNumberOfPlotSeriesNodes())]
    names = [s.GetName() for s in series]
    assert names == ["+20 % or more", "-30 % to +20 %", "-30 % or less", "new lesion (no % change)"]
    assert chart.GetLegendVisibility()
    bars_node = lesion_node.GetNodeReference(module.WATERFALL_TABLE_REFERENCE)
    lesions = column(bars_node, "lesion_id")
    assert lesions == ["fresh", "grows", "steady", "node", "shrinks", "gone"]  # new first, then largest increase
    assert column(bars_node, "label")[0] == "fresh (new)" and column(bars_node, "label")[-1] == "gone (disappeared)"

    shown = {}  # lesion -> (series name, bar height): each lesion in exactly one bar series
    for bar in series[:3]:
        assert bar.GetPlotType() == slicer.vtkMRMLPlotSeriesNode.PlotTypeBar
        assert bar.GetTableNode() is bars_node and bar.GetLabelColumnName() == "label"
        assert tuple(round(255 * c) for c in bar.GetColor()) == COLOURS[bar.GetName()]
        heights = column(bars_node, bar.GetYColumnName())
        assert not any(math.isnan(h) for h in heights), "a NaN in a plotted bar column"
        for lesion, height in zip(lesions, heights):
            if height != 0.0:
                assert lesion not in shown
                shown[lesion] = (bar.GetName(), height)
    assert {lesion: h for lesion, (_, h) in shown.items()} == pytest.approx(EXPECTED)
    assert shown["gone"] == ("-30 % or less", -100.0)
    assert shown["grows"][0] == "+20 % or more" and shown["steady"][0] == "-30 % to +20 %"
    assert "fresh" not in shown  # a new lesion has no bar, not even one of 0 %

    marker = series[3]
    assert marker.GetPlotType() == slicer.vtkMRMLPlotSeriesNode.PlotTypeScatter
    assert marker.GetMarkerStyle() == slicer.vtkMRMLPlotSeriesNode.MarkerStyleDiamond
    assert marker.GetLineStyle() == slicer.vtkMRMLPlotSeriesNode.LineStyleNone
    new_node = marker.GetTableNode()
    assert new_node is lesion_node.GetNodeReference(module.WATERFALL_NEW_TABLE_REFERENCE)
    assert column(new_node, "lesion_id") == ["fresh"]
    assert column(new_node, marker.GetXColumnName()) == [float(lesions.index("fresh"))]  # at its bar slot
    assert column(new_node, marker.GetYColumnName()) == [0.0]
    low, high = chart.GetYAxisRange()
    assert low <= -100.0 and high >= 25.0


def test_a_rerun_replaces_every_node_of_the_chart(module):
    import slicer

    scene = slicer.mrmlScene
    before = {cls: scene.GetNumberOfNodesByClass(cls) for cls in ("vtkMRMLPlotChartNode", "vtkMRMLPlotSeriesNode",
                                                                  "vtkMRMLTableNode")}
    lesion_node, chart = chart_of(module, TABLE)
    logic = module.ResponseSignatureLogic()
    for table in (TABLE, TABLE[TABLE["status"] != "new"]):
        chart = logic.createWaterfallChart(table, lesion_node)
    assert chart.GetNumberOfPlotSeriesNodes() == 3  # no new lesion left: no marker series
    assert lesion_node.GetNodeReference(module.WATERFALL_NEW_TABLE_REFERENCE) is None
    after = {cls: scene.GetNumberOfNodesByClass(cls) for cls in before}
    assert after == {"vtkMRMLPlotChartNode": before["vtkMRMLPlotChartNode"] + 1,
                     "vtkMRMLPlotSeriesNode": before["vtkMRMLPlotSeriesNode"] + 3,
                     "vtkMRMLTableNode": before["vtkMRMLTableNode"] + 2}  # lesion table + waterfall table
