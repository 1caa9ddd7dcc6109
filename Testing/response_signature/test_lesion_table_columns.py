"""Column metadata: every lesion-table column carries a title, a description and a unit (and the IBSI
code where one exists), and they reach real Slicer table nodes (slicer-core) and the CSV's sidecar.

The lesion table is a real one: the sample case through the pipeline with the 'default' preset
(shape, first order and the texture classes on the original image). Expected values are the ones
documented independently of the code that attaches them: units of the measures (DESIGN.md), the IBSI
codes of IBSI 1 (TLU2 = discretised intensity entropy, QCFX = sphericity).
"""
from __future__ import annotations

import json

import pytest

from ResponseSignatureLib import tableio
from ResponseSignatureLib.lesion_table import column_info, columns_info
from ResponseSignatureLib.pipeline import run_case_files


@pytest.fixture(scope="module")
def lesions(sample_case):
    result = run_case_files(sample_case["baseline_image"], sample_case["baseline_seg"],
                            sample_case["followup_image"], sample_case["followup_seg"], params="default",
                            patient_id="sample")
    return result.table


def test_every_lesion_column_is_described(lesions):
    described = columns_info(lesions.columns)
    assert list(described) == [str(c) for c in lesions.columns]  # all of them, in order
    assert all(info.title and info.description for info in described.values())
    assert sum(c.endswith("_firstorder_Entropy") for c in lesions.columns) == 4  # 2 time points, delta, reldelta
    assert described["baseline:volume_ml"].unit == "ml"
    assert described["delta:longest_diameter_mm"].unit == "mm"
    assert described["reldelta:longest_diameter_mm"].unit == ""  # a ratio
    assert described["baseline:original_shape_VoxelVolume"].unit == "mm3"
    assert described["followup:original_firstorder_Entropy"].ibsi == "TLU2"
    assert described["delta:original_shape_Sphericity"].ibsi == "QCFX"
    assert "follow-up − baseline" in described["delta:original_shape_Sphericity"].description


def test_patient_columns_built_from_lesion_columns_are_described(lesions):
    from LesionAggregateLib.aggregate import patient_table

    patients = patient_table(lesions, "volume_weighted")
    # RECIST columns are the lesion table's; the aggregates LesionAggregateLib's (table.attrs['columns'])
    described = tableio.column_metadata(patients)
    aggregated = [c for c in patients.columns if c.startswith("volume_weighted:")]
    assert aggregated and all(c in described for c in aggregated)
    assert described["percent_change_from_baseline"]["unit"] == "%"
    assert described["recist_category"]["title"] == "RECIST 1.1"
    assert set(map(str, patients.columns)) == set(described)


def test_metadata_reaches_slicer_table_nodes(lesions):
    pytest.importorskip("slicer", reason="slicer-core (headless MRML) is not installed")
    from ResponseSignatureLib import mrml_bridge

    scene = mrml_bridge.make_scene()
    node = mrml_bridge.table_node_from_dataframe(scene, lesions, name="sample lesions")
    assert node.IsA("vtkMRMLTableNode") and node.GetNumberOfColumns() == len(lesions.columns)
    for column, info in columns_info(lesions.columns).items():
        assert node.GetColumnTitle(column) == info.title
        assert node.GetColumnDescription(column) == info.description
        assert node.GetColumnUnitLabel(column) == info.unit
        assert node.GetColumnProperty(column, "ibsiCode") == info.ibsi
    assert node.GetColumnUnitLabel("baseline:volume_ml") == "ml"
    assert node.GetColumnProperty("baseline:original_firstorder_Entropy", "ibsiCode") == "TLU2"
    # a reused node takes the new table; explicit arguments override the documented description
    small = lesions[["lesion_id", "baseline:volume_ml"]]
    node = mrml_bridge.table_node_from_dataframe(scene, small, node=node,
                                                 column_descriptions={"baseline:volume_ml": "Volume, baseline"})
    assert node.GetColumnDescription("baseline:volume_ml") == "Volume, baseline"
    assert node.GetColumnUnitLabel("baseline:volume_ml") == "ml"


def test_metadata_reaches_the_csv_sidecar(lesions, tmp_path):
    out = tableio.write_table(lesions, tmp_path / "lesions.csv", {"note": "test"})
    sidecar = json.loads(tableio.provenance_path(out).read_text(encoding="utf-8"))
    assert sidecar["note"] == "test"
    assert set(sidecar["columns"]) == {str(c) for c in lesions.columns}  # (keys stored sorted)
    assert sidecar["columns"]["followup:original_firstorder_Entropy"]["ibsi"] == "TLU2"
    assert sidecar["columns"]["baseline:volume_ml"] == column_info("baseline:volume_ml").as_dict()
    # a producer documents its own columns through table.attrs['columns']
    extra = lesions[["lesion_id"]].assign(my_score=0.5)
    extra.attrs["columns"] = {"my_score": {"title": "Score", "description": "A score of this test"}}
    sidecar = json.loads(tableio.provenance_path(tableio.write_table(extra, tmp_path / "x.csv")).read_text())
    assert sidecar["columns"]["my_score"] == {"title": "Score", "description": "A score of this test"}
    assert "provenance" not in sidecar
