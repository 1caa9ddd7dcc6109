"""LesionAggregateLib documents the patient-table columns it makes: ``n_lesions``,
``aggregation_notes``, ``<method>:<lesion column>`` and ``vote_class:<lesion column>``.

What is expected is what the columns are (aggregate.py's module docstring, DESIGN.md): a count is a
number of lesions whatever the lesion column's unit, a vote a probability, a vote class a class;
a mean, a weighted mean, a maximum... keep the lesion column's unit and IBSI code. The metadata
reaches the CSV sidecar (and survives a read and a re-write, as ``apply --table-out`` does), and
Slicer's table nodes.
"""
from __future__ import annotations

import copy
import json

import pandas as pd
import pytest

from LesionAggregateLib.aggregate import METHODS, METHOD_INFO, patient_table
from ResponseSignatureLib import tableio

ENTROPY = "delta:original_firstorder_Entropy"


@pytest.fixture()
def patients() -> pd.DataFrame:
    lesions = pd.DataFrame({
        "patient_id": ["P1", "P1", "P2"],
        "lesion_id": ["L1", "L2", "L1"],
        "baseline:volume_ml": [2.0, 6.0, 1.0],
        "delta:volume_ml": [-1.0, 2.0, 0.5],
        ENTROPY: [0.1, 0.3, 0.2],
        "baseline:response_probability": [0.2, 0.9, 0.4],
    })
    return patient_table(lesions, "volume_weighted", columns=["delta:volume_ml", ENTROPY],
                         methods={"baseline:response_probability": "vote", "baseline:volume_ml": "count",
                                  "delta:original_firstorder_Entropy": "max"})


def test_every_method_says_how_its_column_reads():
    assert set(METHODS) <= set(METHOD_INFO)


def test_patient_columns_carry_their_own_meaning_and_unit(patients):
    columns = tableio.column_metadata(patients)
    assert set(columns) == set(map(str, patients.columns))  # every column described
    assert all(info.get("title") and info.get("description") for info in columns.values())
    assert columns["n_lesions"]["unit"] == "lesions"
    assert "aggregation_notes" in columns and "why" in columns["aggregation_notes"]["description"]

    count = columns["count:baseline:volume_ml"]
    assert count["unit"] == "lesions" and count["description"].startswith("Number of the patient's lesions")
    vote = columns["vote:baseline:response_probability"]
    assert vote["unit"] == "probability" and "vote" in vote["description"]
    assert columns["vote_class:baseline:response_probability"]["unit"] == "class"
    assert "0.5" in columns["vote_class:baseline:response_probability"]["description"]

    weighted = columns["volume_weighted:delta:volume_ml"]
    assert weighted["unit"] == "ml" and "Lesion volume" in weighted["description"]
    assert weighted["description"].startswith("Volume-weighted mean")
    entropy = columns[f"max:{ENTROPY}"]
    assert entropy["ibsi"] == "TLU2" and entropy["description"].startswith("Maximum")  # IBSI 1: TLU2


def test_a_count_of_an_ibsi_feature_is_not_that_feature():
    lesions = pd.DataFrame({"patient_id": ["P1"], "lesion_id": ["L1"], ENTROPY: [0.1]})
    columns = tableio.column_metadata(patient_table(lesions, "count"))
    assert columns[f"count:{ENTROPY}"]["unit"] == "lesions" and "ibsi" not in columns[f"count:{ENTROPY}"]


def test_metadata_survives_the_csv_and_a_rewrite(patients, tmp_path):
    first = tableio.write_table(patients, tmp_path / "patients.csv")
    sidecar = json.loads(tableio.provenance_path(first).read_text(encoding="utf-8"))
    assert sidecar["columns"]["count:baseline:volume_ml"]["unit"] == "lesions"
    again = tableio.read_table(first).assign(signature_score=0.5)  # what apply --table-out does
    second = tableio.write_table(again, tmp_path / "scored.csv")
    columns = json.loads(tableio.provenance_path(second).read_text(encoding="utf-8"))["columns"]
    assert columns["vote_class:baseline:response_probability"]["unit"] == "class"
    assert columns["n_lesions"] == sidecar["columns"]["n_lesions"]


def test_metadata_is_not_copied_with_every_column(patients):
    """pandas deep-copies attrs on each column access: the metadata must copy as itself."""
    assert copy.deepcopy(patients.attrs)["columns"] is patients.attrs["columns"]
    assert patients["n_lesions"].attrs["columns"] is patients.attrs["columns"]


def test_metadata_reaches_slicer_table_nodes(patients):
    pytest.importorskip("slicer", reason="slicer-core (headless MRML) is not installed")
    from ResponseSignatureLib import mrml_bridge

    node = mrml_bridge.table_node_from_dataframe(mrml_bridge.make_scene(), patients, name="patients")
    assert node.GetColumnUnitLabel("count:baseline:volume_ml") == "lesions"
    assert node.GetColumnUnitLabel("vote:baseline:response_probability") == "probability"
    assert node.GetColumnUnitLabel("volume_weighted:delta:volume_ml") == "ml"
    assert node.GetColumnDescription("n_lesions").startswith("Number of the patient's lesions")
    assert node.GetColumnProperty(f"max:{ENTROPY}", "ibsiCode") == "TLU2"
