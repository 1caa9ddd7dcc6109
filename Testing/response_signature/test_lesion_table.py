"""ResponseSignatureLib.lesion_table: the lesion table built from hand-made measurements, and what
the later stages read from it (RECIST 1.1 per patient, the waterfall of per-lesion changes).

One patient, five lesions, every value chosen so the expected numbers follow by hand:

==========  ===========  ======  =====================  ======================  ======
lesion      status       target  baseline LD/SA/ml/HU   follow-up LD/SA/ml/HU   note
==========  ===========  ======  =====================  ======================  ======
liver_1     matched      yes     40 / 30 / 20 / 60      28 / 21 / 9 / 45        LD -30 %
node_1      matched      yes     25 / 16 / 4 / 40       27 / 18 / 5 / 38        SA +12.5 %
lung_gone   disappeared  no      12 / 9 / 0.8 / -20     (absent: 0 mm, 0 ml)    -100 %
bone_err    matched      no      (no values)            (no values)             error
liver_new   new          no      (absent)               15 / 10 / 1.5 / 70      new
==========  ===========  ======  =====================  ======================  ======
"""
from __future__ import annotations

import math

import pandas as pd
import pytest

from ResponseSignatureLib.lesion_table import (ID_COLUMNS, build_lesion_table, infer_location,
                                               recist_diameter_column, recist_from_lesion_table,
                                               relative_change, waterfall_table)

MEASURES = ["longest_diameter_mm", "short_axis_mm", "volume_ml", "mean_hu", "n_voxels"]
# features in the order first seen: liver_1 at baseline, then Sphericity only at follow-up
FEATURES = ["original_firstorder_Mean", "original_glcm_Contrast", "original_firstorder_Skewness",
            "original_shape_Sphericity"]


def measures(ld, sa, ml, hu, voxels) -> dict:
    return dict(zip(MEASURES, (ld, sa, ml, hu, voxels)))


VALUES = {
    "baseline": {
        "liver_1": {**measures(40.0, 30.0, 20.0, 60.0, 1000), "original_firstorder_Mean": 60.0,
                    "original_glcm_Contrast": 2.0, "original_firstorder_Skewness": -0.4},
        "node_1": {**measures(25.0, 16.0, 4.0, 40.0, 200), "original_firstorder_Mean": 40.0},
        "lung_gone": {**measures(12.0, 9.0, 0.8, -20.0, 40), "original_firstorder_Mean": -20.0},
    },
    "followup": {
        "liver_1b": {**measures(28.0, 21.0, 9.0, 45.0, 450), "original_firstorder_Mean": 45.0,
                     "original_glcm_Contrast": 3.0, "original_firstorder_Skewness": -0.1,
                     "original_shape_Sphericity": 0.8},
        "node_1": {**measures(27.0, 18.0, 5.0, 38.0, 250), "original_firstorder_Mean": 38.0},
        "liver_new": {**measures(15.0, 10.0, 1.5, 70.0, 75), "original_firstorder_Mean": 70.0},
    },
}


def lesion(lesion_id, location, status, baseline, followup, target=False, error=None) -> dict:
    return {"lesion_id": lesion_id, "location": location, "status": status, "baseline_segment": baseline,
            "followup_segment": followup, "match_method": "pair" if baseline and followup else "",
            "match_distance_mm": 2.5 if baseline and followup else math.nan, "target": target, "error": error}


def hand_table(new_lesion: bool = True, lung_is_target: bool = False) -> pd.DataFrame:
    rows = [lesion("liver_1", "liver", "matched", "liver_1", "liver_1b", target=True),
            lesion("node_1", "node", "matched", "node_1", "node_1", target=True),
            lesion("lung_gone", "lung", "disappeared", "lung_gone", None, target=lung_is_target),
            lesion("bone_err", "bone", "matched", "bone_err", "bone_err", error="mask has 2 voxels")]
    if new_lesion:
        rows.append(lesion("liver_new", "liver", "new", None, "liver_new"))
    return build_lesion_table("P1", rows, VALUES)


def row(table: pd.DataFrame, lesion_id: str) -> pd.Series:
    return table.set_index("lesion_id").loc[lesion_id]


# --------------------------------------------------------------------------------------------
# build_lesion_table
# --------------------------------------------------------------------------------------------

def test_columns_ids_then_timepoints_delta_reldelta_then_error():
    table = hand_table()
    names = MEASURES + FEATURES
    expected = (list(ID_COLUMNS) + [f"{prefix}:{name}" for prefix in ("baseline", "followup", "delta", "reldelta")
                                    for name in names] + ["error"])
    assert list(table.columns) == expected
    assert list(table["lesion_id"]) == ["liver_1", "node_1", "lung_gone", "bone_err", "liver_new"]
    assert set(table["patient_id"]) == {"P1"}
    assert list(table["error"]) == ["", "", "", "mask has 2 voxels", ""]


def test_delta_and_reldelta_of_a_matched_lesion():
    liver = row(hand_table(), "liver_1")
    # delta = follow-up - baseline; reldelta = delta / |baseline|
    expected = {"longest_diameter_mm": (-12.0, -0.3), "short_axis_mm": (-9.0, -0.3), "volume_ml": (-11.0, -0.55),
                "mean_hu": (-15.0, -0.25), "n_voxels": (-550.0, -0.55), "original_glcm_Contrast": (1.0, 0.5),
                # a negative baseline: -0.1 - (-0.4) = +0.3, relative to |-0.4| = +0.75 (not -0.75)
                "original_firstorder_Skewness": (0.3, 0.75)}
    for name, (delta, reldelta) in expected.items():
        assert liver[f"delta:{name}"] == pytest.approx(delta), name
        assert liver[f"reldelta:{name}"] == pytest.approx(reldelta), name
    # a feature only measured at follow-up has no baseline and so no change
    assert math.isnan(liver["baseline:original_shape_Sphericity"]) and liver["followup:original_shape_Sphericity"] == 0.8
    assert math.isnan(liver["delta:original_shape_Sphericity"]) and math.isnan(liver["reldelta:original_shape_Sphericity"])
    assert liver["match_method"] == "pair" and liver["match_distance_mm"] == 2.5 and bool(liver["target"])


def test_absent_time_point_is_zero_size_and_missing_intensity():
    table = hand_table()
    gone = row(table, "lung_gone")
    # disappeared: 0 mm / 0 ml / 0 voxels at follow-up (a clinical finding), intensity and features missing
    assert [gone[f"followup:{m}"] for m in ("longest_diameter_mm", "short_axis_mm", "volume_ml", "n_voxels")] == [0.0] * 4
    assert math.isnan(gone["followup:mean_hu"]) and math.isnan(gone["followup:original_firstorder_Mean"])
    assert gone["delta:longest_diameter_mm"] == -12.0 and gone["reldelta:longest_diameter_mm"] == -1.0
    assert gone["delta:volume_ml"] == pytest.approx(-0.8) and gone["reldelta:volume_ml"] == -1.0
    assert math.isnan(gone["delta:mean_hu"]) and math.isnan(gone["reldelta:mean_hu"])
    new = row(table, "liver_new")
    # new: 0 mm at baseline, so a change in mm but no relative change (division by a zero baseline)
    assert new["baseline:longest_diameter_mm"] == 0.0 and new["delta:longest_diameter_mm"] == 15.0
    assert math.isnan(new["reldelta:longest_diameter_mm"]) and math.isnan(new["reldelta:volume_ml"])
    assert math.isnan(new["baseline:mean_hu"]) and math.isnan(new["delta:mean_hu"])
    # a segment with no values at all (measurement failed): every value missing, the reason kept
    failed = row(table, "bone_err")
    value_columns = [c for c in table.columns if ":" in c]
    assert failed[value_columns].isna().all() and failed["error"] == "mask has 2 voxels"


def test_a_feature_missing_for_one_lesion_is_missing_not_zero():
    node = row(hand_table(), "node_1")
    assert math.isnan(node["baseline:original_glcm_Contrast"]) and math.isnan(node["delta:original_glcm_Contrast"])
    assert node["delta:short_axis_mm"] == 2.0 and node["reldelta:short_axis_mm"] == pytest.approx(0.125)


@pytest.mark.parametrize("baseline, followup, expected", [
    (10.0, 12.0, 0.2), (-20.0, -10.0, 0.5), (-20.0, -30.0, -0.5), (4.0, 0.0, -1.0),
    (0.0, 5.0, math.nan), (math.nan, 1.0, math.nan), (1.0, math.inf, math.nan), (None, 1.0, math.nan)])
def test_relative_change(baseline, followup, expected):
    result = relative_change(baseline, followup)
    assert math.isnan(result) if math.isnan(expected) else result == pytest.approx(expected)


@pytest.mark.parametrize("name, organ", [("Liver_1", "liver"), ("Lung lesion 2", "lung"), ("Lymph node 3", "node"),
                                         ("mediastinal_lymph", "node"), ("lesion_7", "other"), ("SPLEEN", "spleen")])
def test_infer_location(name, organ):
    assert infer_location(name) == organ


def test_recist_diameter_column_short_axis_for_nodes():
    assert recist_diameter_column("node", "baseline") == "baseline:short_axis_mm"
    assert recist_diameter_column("mediastinal lymph node", "followup") == "followup:short_axis_mm"
    assert recist_diameter_column("liver", "followup") == "followup:longest_diameter_mm"
    # a table without the short axis: the longest diameter is all there is
    assert recist_diameter_column("node", "baseline", ["baseline:longest_diameter_mm"]) == "baseline:longest_diameter_mm"


# --------------------------------------------------------------------------------------------
# recist_from_lesion_table
# --------------------------------------------------------------------------------------------

def test_recist_targets_from_the_column_nodes_by_short_axis():
    summary = recist_from_lesion_table(hand_table(new_lesion=False))
    assert summary["recist_targets"] == "liver_1,node_1"
    # sums: liver LD 40 + node SA 16 = 56 mm -> 28 + 18 = 46 mm: -17.857 %, SD (PR needs <= -30 %)
    assert summary["baseline_sum_mm"] == 56.0 and summary["followup_sum_mm"] == 46.0 and summary["nadir_mm"] == 56.0
    assert summary["percent_change_from_baseline"] == pytest.approx(100 * (46 - 56) / 56)
    assert summary["recist_category"] == "SD" and "-17.9 %" in summary["recist_reason"]
    # volumes of the targets: 20 + 4 = 24 ml -> 9 + 5 = 14 ml: -41.667 %, SD (PR needs <= -65 %)
    assert summary["volumetric_change_percent"] == pytest.approx(100 * (14 - 24) / 24)
    assert summary["volumetric_category"] == "SD"
    # Choi: size -17.9 % <= -10 % is PR on its own
    assert summary["choi_category"] == "PR"


def test_recist_a_disappeared_target_counts_zero():
    summary = recist_from_lesion_table(hand_table(new_lesion=False, lung_is_target=True))
    assert summary["recist_targets"] == "liver_1,node_1,lung_gone"
    # 40 + 16 + 12 = 68 mm -> 28 + 18 + 0 = 46 mm: -32.353 %, PR
    assert summary["baseline_sum_mm"] == 68.0 and summary["followup_sum_mm"] == 46.0
    assert summary["percent_change_from_baseline"] == pytest.approx(100 * (46 - 68) / 68)
    assert summary["recist_category"] == "PR"
    # 24.8 ml -> 14 ml (the lung lesion 0 ml): -43.548 %
    assert summary["volumetric_change_percent"] == pytest.approx(100 * (14 - 24.8) / 24.8)


def test_recist_new_lesion_is_progression_whatever_the_sums():
    summary = recist_from_lesion_table(hand_table(new_lesion=True))
    assert summary["followup_sum_mm"] == 46.0  # the new lesion is not added to the target sum
    assert summary["recist_category"] == "PD" and "new lesion(s): liver_new" in summary["recist_reason"]
    assert summary["volumetric_category"] == "PD" and summary["choi_category"] == "PD"


# --------------------------------------------------------------------------------------------
# waterfall_table
# --------------------------------------------------------------------------------------------

def test_waterfall_largest_increase_first_nodes_by_short_axis():
    waterfall = waterfall_table(hand_table())
    assert list(waterfall.columns) == ["lesion_id", "status", "diameter_change_percent"]
    # node SA 16 -> 18 = +12.5 % (its LD would say +8 %); liver LD 40 -> 28 = -30 %; gone 12 -> 0 = -100 %
    assert list(waterfall["lesion_id"]) == ["node_1", "liver_1", "lung_gone"]
    assert list(waterfall["diameter_change_percent"]) == pytest.approx([12.5, -30.0, -100.0])
    assert list(waterfall["status"]) == ["matched", "matched", "disappeared"]


def test_waterfall_with_every_lesion_new_first_unmeasured_last():
    waterfall = waterfall_table(hand_table(), include_new=True)
    assert list(waterfall["lesion_id"]) == ["liver_new", "node_1", "liver_1", "lung_gone", "bone_err"]
    changes = list(waterfall["diameter_change_percent"])
    assert math.isnan(changes[0]) and math.isnan(changes[-1])
    assert changes[1:4] == pytest.approx([12.5, -30.0, -100.0])
