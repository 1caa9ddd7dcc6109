"""RECIST 1.1 selection and response, volumetric and Choi categories, at their exact boundaries.

Every expected number is computed by hand in the test (sums of a few diameters, percentages).
"""
from __future__ import annotations

import math

import pytest

from ResponseSignatureLib.errors import InputError
from ResponseSignatureLib.recist import (
    LesionMeasurement, assess_response, choi_response, is_lymph_node, is_measurable,
    lesion_recist_diameter, organ_group, patient_recist_summary, select_targets,
    volumetric_category, volumetric_change,
)


def liver(lesion_id, ld, volume=math.nan, hu=math.nan, location="liver"):
    return LesionMeasurement(lesion_id, location, ld, ld * 0.6, volume, hu)


def node(lesion_id, sa, location="lymph node", volume=math.nan, hu=math.nan):
    return LesionMeasurement(lesion_id, location, sa * 1.5, sa, volume, hu)


def gone(lesion_id, location="liver"):
    return LesionMeasurement(lesion_id, location, math.nan, math.nan, 0.0, math.nan, present=False)


def as_map(*lesions):
    return {m.lesion_id: m for m in lesions}


def categories(sums_mm):
    """Categories of a single liver target whose LD follows ``sums_mm`` (index 0 = baseline)."""
    timepoints = [as_map(liver("a", s)) for s in sums_mm]
    return [r.category for r in assess_response(timepoints, ["a"])]


# ----------------------------------------------------------------------------- thresholds


def test_pr_at_exactly_minus_30_percent_sd_at_minus_29_9():
    [pr] = assess_response([as_map(liver("a", 100.0)), as_map(liver("a", 70.0))], ["a"])
    assert pr.category == "PR"
    assert pr.percent_change_from_baseline == pytest.approx(-30.0)
    [sd] = assess_response([as_map(liver("a", 100.0)), as_map(liver("a", 70.1))], ["a"])
    assert sd.category == "SD"
    assert sd.percent_change_from_baseline == pytest.approx(-29.9)


def test_pr_boundary_survives_floating_point_sums():
    """10.1 + 20.2 + 30.3 = 60.6 -> 7.07 + 14.14 + 21.21 = 42.42 is exactly -30 % on paper."""
    base = as_map(liver("a", 10.1), liver("b", 20.2), liver("c", 30.3))
    follow = as_map(liver("a", 7.07), liver("b", 14.14), liver("c", 21.21))
    [r] = assess_response([base, follow], ["a", "b", "c"])
    assert r.baseline_sum_mm == pytest.approx(60.6)
    assert r.sum_diameters_mm == pytest.approx(42.42)
    assert r.category == "PR"


def test_pd_needs_20_percent_and_5_mm():
    assert categories([25.0, 30.0]) == ["PD"]   # +20 % and +5 mm
    assert categories([20.0, 24.0]) == ["SD"]   # +20 % but only +4 mm
    assert categories([100.0, 119.9]) == ["SD"]  # +19.9 %
    [r] = assess_response([as_map(liver("a", 25.0)), as_map(liver("a", 30.0))], ["a"])
    assert r.percent_change_from_nadir == pytest.approx(20.0)
    assert r.absolute_change_from_nadir_mm == pytest.approx(5.0)
    assert "nadir" in r.reason


def test_pd_against_nadir_pr_against_baseline():
    # 75 vs nadir 60: +25 % and +15 mm -> PD, although -25 % from baseline.
    responses = assess_response([as_map(liver("a", s)) for s in (100.0, 60.0, 75.0)], ["a"])
    assert [r.category for r in responses] == ["PR", "PD"]
    assert responses[1].nadir_mm == 60.0
    assert responses[1].percent_change_from_nadir == pytest.approx(25.0)
    assert responses[1].percent_change_from_baseline == pytest.approx(-25.0)
    # 70: -30 % from baseline -> PR, +7.7 % from nadir 65 is not PD.
    assert categories([100.0, 65.0, 70.0]) == ["PR", "PR"]
    # EORTC FAQ example 165 -> 63 -> 65: continued PR.
    assert categories([165.0, 63.0, 65.0]) == ["PR", "PR"]
    # 95 vs nadir 80 = +18.75 % -> SD; 96 vs 80 = +20 %, +16 mm -> PD.
    assert categories([100.0, 80.0, 95.0]) == ["SD", "SD"]
    assert categories([100.0, 80.0, 96.0]) == ["SD", "PD"]


def test_nadir_is_the_minimum_of_baseline_and_previous_timepoints_only():
    responses = assess_response([as_map(liver("a", s)) for s in (50.0, 60.0, 40.0, 47.0)], ["a"])
    # 60 vs nadir 50: +20 %, +10 mm -> PD; 40 vs nadir 50 -> SD (-20 %); 47 vs nadir 40: +17.5 %.
    assert [r.nadir_mm for r in responses] == [50.0, 50.0, 40.0]
    assert [r.category for r in responses] == ["PD", "SD", "SD"]


# ----------------------------------------------------------------------------- other rules


def test_new_lesion_is_pd_even_while_shrinking():
    responses = assess_response([as_map(liver("a", 100.0)), as_map(liver("a", 40.0))], ["a"],
                                new_lesions_per_timepoint=[["liver_7"]])
    assert responses[0].category == "PD"
    assert "liver_7" in responses[0].reason
    assert responses[0].new_lesions == ["liver_7"]
    assert responses[0].percent_change_from_baseline == pytest.approx(-60.0)


def test_non_target_progression_flag_is_pd():
    [r] = assess_response([as_map(liver("a", 100.0)), as_map(liver("a", 100.0))], ["a"],
                          non_target_progression=[True])
    assert r.category == "PD" and "non-target" in r.reason


def test_cr_with_nodal_target_below_10_mm_sum_not_zero():
    base = as_map(liver("l", 30.0), node("n", 20.0))
    [cr] = assess_response([base, as_map(gone("l"), node("n", 9.0))], ["l", "n"])
    assert cr.category == "CR"
    assert cr.sum_diameters_mm == 9.0      # node keeps its actual short axis
    assert cr.baseline_sum_mm == 50.0
    # Node at 10 mm is not normal: no CR; 10 vs 50 = -80 % -> PR.
    [pr] = assess_response([base, as_map(gone("l"), node("n", 10.0))], ["l", "n"])
    assert pr.category == "PR"
    assert pr.percent_change_from_baseline == pytest.approx(-80.0)
    # Target CR while non-target lesions persist -> overall PR.
    [persist] = assess_response([base, as_map(gone("l"), node("n", 9.0))], ["l", "n"],
                                non_target_present=[True])
    assert persist.category == "PR"


def test_nadir_zero_reappearance_uses_the_5_mm_rule_without_division():
    timepoints = [as_map(liver("a", 20.0)), as_map(gone("a")), as_map(liver("a", 4.0)),
                  as_map(liver("a", 5.0))]
    responses = assess_response(timepoints, ["a"])
    assert [r.category for r in responses] == ["CR", "PR", "PD"]  # 4 mm: -80 % vs baseline
    assert [r.nadir_mm for r in responses] == [20.0, 0.0, 0.0]
    assert math.isnan(responses[1].percent_change_from_nadir)
    assert responses[2].absolute_change_from_nadir_mm == 5.0


def test_ne_on_missing_measurement_and_excluded_from_nadir():
    base = as_map(liver("a", 60.0), liver("b", 40.0))
    timepoints = [base,
                  as_map(liver("a", 30.0), liver("b", 20.0)),                  # 50: PR
                  as_map(liver("a", 30.0)),                                     # b missing: NE
                  as_map(liver("a", 31.0), liver("b", math.nan)),               # b NaN: NE
                  as_map(liver("a", 33.0), liver("b", 22.0)),                   # 55: -45 % -> PR
                  as_map(liver("a", 36.0), liver("b", 26.0))]                   # 62 vs 50: PD
    responses = assess_response(timepoints, ["a", "b"])
    # The partial sums (30, 31) of the NE time points never become the nadir: 55 is no PD.
    assert [r.category for r in responses] == ["PR", "NE", "NE", "PR", "PD"]
    assert responses[4].nadir_mm == 50.0
    assert responses[1].not_evaluable == ["b"] and "b" in responses[1].reason
    assert math.isnan(responses[1].sum_diameters_mm)
    assert responses[3].nadir_mm == 50.0


def test_pd_from_evaluable_targets_beats_ne():
    base = as_map(liver("a", 50.0), liver("b", 50.0))
    [r] = assess_response([base, as_map(liver("a", 130.0))], ["a", "b"])
    assert r.category == "PD"          # 130 alone is +30 mm, +30 % above the nadir 100
    assert "even without" in r.reason and "b" in r.reason


# ----------------------------------------------------------------------------- selection


def test_measurability_thresholds_inclusive():
    assert is_measurable(node("n", 15.0))
    assert not is_measurable(node("n", 14.9))
    assert not is_measurable(LesionMeasurement("n", "lymph node", 30.0, 12.0))  # LD ignored
    assert is_measurable(liver("a", 10.0))
    assert not is_measurable(liver("a", 9.9))
    assert not is_measurable(liver("a", 11.0), slice_thickness_mm=6.0)  # needs 2 x 6 = 12 mm
    assert is_measurable(liver("a", 12.0), slice_thickness_mm=6.0)
    assert not is_measurable(node("n", 15.5), slice_thickness_mm=8.0)   # needs max(15, 16)
    assert not is_measurable(gone("a"))


def test_select_targets_caps_paired_organs_and_nodes():
    lesions = [liver("liver_a", 50.0), liver("liver_b", 45.0), liver("liver_c", 40.0),
               liver("lung_l", 35.0, location="left lung"),
               liver("lung_r", 30.0, location="Right Lung"),
               node("node_med", 25.0, location="mediastinal lymph node"),
               node("node_ax", 22.0, location="axillary node"),
               node("node_hilar", 20.0, location="Hilar lymph nodes"),
               liver("kidney", 12.0, location="kidney"),
               node("node_small", 14.9)]
    assert select_targets(lesions) == ["liver_a", "liver_b", "lung_l", "lung_r", "node_med"]
    # Without the total cap: two lungs count as one organ, all node chains as one organ.
    assert select_targets(lesions, max_total=10) == ["liver_a", "liver_b", "lung_l", "lung_r",
                                                     "node_med", "node_ax", "kidney"]
    assert select_targets(lesions, max_total=10, max_per_organ=1) == [
        "liver_a", "lung_l", "node_med", "kidney"]


def test_lesions_of_unknown_location_each_count_as_their_own_organ():
    """'other' / 'unknown' / empty names no organ: such lesions are never capped together."""
    unknown = [liver("lesion_1", 40.0, location="other"), liver("lesion_2", 35.0, location="unknown"),
               liver("lesion_3", 30.0, location=""), liver("lesion_4", 25.0, location="other")]
    assert select_targets(unknown) == ["lesion_1", "lesion_2", "lesion_3", "lesion_4"]
    located = [liver(m.lesion_id, m.longest_diameter_mm) for m in unknown]
    assert select_targets(located) == ["lesion_1", "lesion_2"]  # the same lesions, all in the liver
    assert organ_group("other", "lesion_1") != organ_group("other", "lesion_4")
    response = assess_response([as_map(*unknown), as_map(*unknown)], ["lesion_1", "lesion_2"])[0]
    assert response.category == "SD"
    assert "location missing for target lesion(s) lesion_1, lesion_2" in response.reason
    assert "location missing" not in assess_response([as_map(*located), as_map(*located)], ["lesion_1"])[0].reason


def test_select_targets_ties_by_id_and_dict_input():
    lesions = {"z": {"location": "liver", "longest_diameter_mm": 20.0, "short_axis_mm": 10.0},
               "b": {"location": "liver", "longest_diameter_mm": 20.0, "short_axis_mm": 10.0},
               "m": {"location": "liver", "longest_diameter_mm": 20.0, "short_axis_mm": 10.0}}
    assert select_targets(lesions) == ["b", "m"]


def test_locations_and_recist_diameter():
    assert is_lymph_node("Lymph node") and is_lymph_node("hilar nodes")
    assert not is_lymph_node("lung nodule") and not is_lymph_node(None)
    assert organ_group("left lung") == organ_group("Lungs") == "lung"
    assert organ_group("right kidney") == organ_group("renal") == "kidney"
    assert organ_group("ovarian") == "ovary"
    assert organ_group("inguinal node") == organ_group("lymph node") == "lymph node"
    assert organ_group("  Liver ") == "liver"
    assert lesion_recist_diameter(liver("a", 30.0)) == 30.0
    assert lesion_recist_diameter(node("n", 12.0)) == 12.0
    assert lesion_recist_diameter(node("n", 12.0), is_node=False) == 18.0
    assert lesion_recist_diameter(gone("a")) == 0.0
    assert math.isnan(lesion_recist_diameter(LesionMeasurement("a", "liver")))


def test_input_errors_name_the_problem():
    base = as_map(liver("a", 30.0))
    with pytest.raises(InputError, match="target lesion 'x' has no baseline measurement"):
        assess_response([base, base], ["x"])
    with pytest.raises(InputError, match="at least one"):
        assess_response([base, base], [])
    with pytest.raises(InputError, match="one entry per follow-up"):
        assess_response([base, base], ["a"], new_lesions_per_timepoint=[[], []])
    with pytest.raises(InputError, match="baseline and at least one follow-up"):
        assess_response([base], ["a"])
    with pytest.raises(InputError, match="target lesion 'a' needs a baseline longest diameter"):
        assess_response([as_map(gone("a")), base], ["a"])


# ----------------------------------------------------------------------------- volumetric, Choi


def test_volumetric_thresholds():
    assert volumetric_change(10.0, 3.5) == pytest.approx(-65.0)
    assert volumetric_category(-65.0) == "PR"
    assert volumetric_category(-64.9) == "SD"
    assert volumetric_category(73.0) == "PD"
    assert volumetric_category(72.9) == "SD"
    assert volumetric_category(-100.0) == "CR"
    assert volumetric_category(-10.0, new_lesions=True) == "PD"
    # A sphere whose diameter shrinks by 30 %: (0.7^3 - 1) = -65.7 % -> PR.
    sphere = volumetric_change(math.pi / 6 * 40.0 ** 3, math.pi / 6 * 28.0 ** 3)
    assert sphere == pytest.approx(-65.7)
    assert volumetric_category(sphere) == "PR"
    assert math.isnan(volumetric_change(0.0, 3.0))
    assert volumetric_category(volumetric_change(0.0, 3.0)) == "NE"
    with pytest.raises(InputError):
        volumetric_change(-1.0, 3.0)


def test_choi_thresholds():
    assert choi_response(100, 90, 100, 100, False) == "PR"   # size -10 %
    assert choi_response(100, 91, 100, 86, False) == "SD"    # -9 %, HU -14 %
    assert choi_response(100, 91, 100, 85, False) == "PR"    # HU -15 %
    assert choi_response(100, 110, 100, 100, False) == "PD"  # size +10 %, density not PR
    assert choi_response(100, 109, 100, 100, False) == "SD"
    assert choi_response(100, 110, 100, 80, False) == "PR"   # density PR prevents PD
    assert choi_response(100, 50, 100, 50, True) == "PD"     # new lesion
    assert choi_response(100, 0, 100, math.nan, False) == "CR"


def test_modified_choi_needs_size_and_density():
    assert choi_response(100, 90, 100, 100, False, modified=True) == "SD"
    assert choi_response(100, 90, 100, 85, False, modified=True) == "PR"
    assert choi_response(100, 110, 100, 80, False, modified=True) == "SD"
    assert choi_response(100, 90, 0, 10, False) == "PR"                    # HU change undefined
    assert choi_response(100, 90, 0, 10, False, modified=True) == "NE"


# ----------------------------------------------------------------------------- patient summary


def test_patient_summary_by_hand():
    baseline = as_map(liver("l1", 40.0, volume=30.0, hu=60.0), liver("l2", 20.0, volume=10.0, hu=40.0),
                      node("n1", 12.0, volume=2.0, hu=30.0))
    followup = as_map(liver("l1", 28.0, volume=10.0, hu=50.0), liver("l2", 12.0, volume=4.0, hu=40.0),
                      node("n1", 12.0, volume=2.0, hu=30.0))
    summary = patient_recist_summary(baseline, followup)
    assert set(summary) == {"recist_targets", "baseline_sum_mm", "followup_sum_mm", "nadir_mm",
                            "percent_change_from_baseline", "percent_change_from_nadir",
                            "recist_category", "recist_reason", "volumetric_change_percent",
                            "volumetric_category", "choi_category"}
    assert summary["recist_targets"] == "l1,l2"      # node SA 12 mm is not measurable
    assert summary["baseline_sum_mm"] == 60.0
    assert summary["followup_sum_mm"] == 40.0
    assert summary["nadir_mm"] == 60.0
    assert summary["percent_change_from_baseline"] == pytest.approx(-100.0 / 3.0)
    assert summary["recist_category"] == "PR"
    assert summary["volumetric_change_percent"] == pytest.approx(-65.0)   # 40 ml -> 14 ml
    assert summary["volumetric_category"] == "PR"
    # size -33 % -> Choi PR; density (30*60+10*40)/40 = 55 -> (10*50+4*40)/14 = 47.1 HU is -14.3 %,
    # so modified Choi (size AND density) is SD.
    assert summary["choi_category"] == "PR"
    assert patient_recist_summary(baseline, followup, modified_choi=True)["choi_category"] == "SD"


def test_patient_summary_two_followups_and_new_lesions():
    baseline = as_map(liver("a", 100.0, volume=50.0, hu=50.0))
    followups = [as_map(liver("a", 60.0, volume=11.0, hu=50.0)),
                 as_map(liver("a", 75.0, volume=21.0, hu=50.0))]
    summary = patient_recist_summary(baseline, followups)
    assert summary["nadir_mm"] == 60.0
    assert summary["percent_change_from_nadir"] == pytest.approx(25.0)
    assert summary["recist_category"] == "PD"
    summary = patient_recist_summary(baseline, followups[0], new_lesions=["liver_9"])
    assert summary["recist_category"] == "PD"
    assert summary["volumetric_category"] == "PD" and summary["choi_category"] == "PD"
    with pytest.raises(InputError, match="one list per follow-up"):
        patient_recist_summary(baseline, followups, new_lesions=["liver_9"])


def test_patient_summary_without_measurable_target():
    baseline = as_map(liver("a", 8.0))
    summary = patient_recist_summary(baseline, as_map(liver("a", 9.0)))
    assert summary["recist_targets"] == ""
    assert summary["recist_category"] == "NE"
    assert math.isnan(summary["baseline_sum_mm"])
