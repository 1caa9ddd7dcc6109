"""The lesion stage end to end on real files: sample case -> lesion table -> RECIST.

Expected values come from the sample case's design (sample_data.SAMPLE_LESIONS: which lesions
shrink, vanish or appear) and from RECIST 1.1's rules, and bad inputs are built on purpose.
"""
from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk

from ResponseSignatureLib import imageio, pipeline
from ResponseSignatureLib.errors import InputError
from ResponseSignatureLib.lesion_table import waterfall_table

LIGHT_PARAMS = {"imageType": {"Original": {}}, "featureClass": {"firstorder": ["Mean", "Entropy"], "shape": ["VoxelVolume"]}, "setting": {"binWidth": 25}}


def load_timepoints(paths):
    return pipeline.read_timepoints(*(paths[key] for key in ("baseline_image", "baseline_seg", "followup_image", "followup_seg")))


@pytest.fixture(scope="module")
def sample_result(sample_case):
    return pipeline.run_case_files(
        sample_case["baseline_image"], sample_case["baseline_seg"], sample_case["followup_image"], sample_case["followup_seg"],
        patient_id="sample", locations=sample_case["locations"], params=LIGHT_PARAMS,
    )


def test_lesion_table_follows_the_sample_design(sample_result):
    table = sample_result.table.set_index("lesion_id")
    assert table.loc["liver_3", "status"] == "disappeared"
    assert table.loc["liver_4", "status"] == "new"
    assert set(table.index[table["status"] == "matched"]) == {"liver_1", "liver_2", "node_1"}
    assert table.loc["node_1", "location"] == "node"
    # disappeared: 0 mm / 0 ml at follow-up, features missing, change defined for the measures
    assert table.loc["liver_3", "followup:longest_diameter_mm"] == 0.0
    assert table.loc["liver_3", "followup:volume_ml"] == 0.0
    assert math.isnan(table.loc["liver_3", "followup:original_firstorder_Mean"])
    assert table.loc["liver_3", "reldelta:volume_ml"] == pytest.approx(-1.0)
    # new: no baseline, so no relative change
    assert math.isnan(table.loc["liver_4", "reldelta:volume_ml"])
    # delta and reldelta are follow-up minus baseline, for measures and features alike
    for column in ("volume_ml", "original_firstorder_Entropy", "longest_diameter_mm"):
        before, after = table.loc["liver_1", f"baseline:{column}"], table.loc["liver_1", f"followup:{column}"]
        assert table.loc["liver_1", f"delta:{column}"] == pytest.approx(after - before)
        assert table.loc["liver_1", f"reldelta:{column}"] == pytest.approx((after - before) / abs(before))
    # liver_1 was designed to shrink to 0.65 of its radius: volume ratio 0.65**3 (voxelised)
    ratio = table.loc["liver_1", "followup:volume_ml"] / table.loc["liver_1", "baseline:volume_ml"]
    assert ratio == pytest.approx(0.65**3, rel=0.1)
    # pyradiomics' own VoxelVolume agrees with our volume_ml (mm^3 vs ml)
    assert table.loc["liver_1", "baseline:original_shape_VoxelVolume"] / 1000 == pytest.approx(table.loc["liver_1", "baseline:volume_ml"])


def test_recist_targets_and_new_lesion_progression(sample_result):
    table = sample_result.table.set_index("lesion_id")
    # at most 2 liver targets (the two largest) plus the node (short axis >= 15 mm)
    assert set(table.index[table["target"]]) == {"liver_1", "liver_2", "node_1"}
    recist = sample_result.recist
    expected_baseline = table.loc["liver_1", "baseline:longest_diameter_mm"] + table.loc["liver_2", "baseline:longest_diameter_mm"] + table.loc["node_1", "baseline:short_axis_mm"]
    assert recist["baseline_sum_mm"] == pytest.approx(expected_baseline)
    assert recist["recist_category"] == "PD"  # a new lesion is progression whatever the sum does
    assert "liver_4" in recist["recist_reason"]
    assert sample_result.provenance["extraction_settings"] == LIGHT_PARAMS


def test_waterfall_orders_changes(sample_result):
    waterfall = waterfall_table(sample_result.table)
    assert list(waterfall["diameter_change_percent"]) == sorted(waterfall["diameter_change_percent"], reverse=True)
    assert "liver_4" not in set(waterfall["lesion_id"])  # new lesions have no baseline
    assert waterfall.set_index("lesion_id").loc["liver_3", "diameter_change_percent"] == pytest.approx(-100.0)


def test_renamed_lesion_is_matched_by_centroid(sample_case):
    timepoints = load_timepoints(sample_case)
    image, segments = timepoints["followup"]
    for segment in segments:
        if segment.name == "liver_2":
            segment.name = "segment_7"
    result = pipeline.compute_lesion_table(timepoints, params=LIGHT_PARAMS, patient_id="sample")
    row = result.table.set_index("lesion_id").loc["liver_2"]
    assert row["status"] == "matched" and row["match_method"] == "centroid"
    assert row["followup_segment"] == "segment_7"
    assert row["match_distance_mm"] < 10.0


def test_bad_lesions_are_reported_and_others_still_computed(sample_case):
    timepoints = load_timepoints(sample_case)
    image, segments = timepoints["baseline"]
    empty = sitk.Image(segments[0].mask)
    empty *= 0
    one_voxel = sitk.Image(empty)
    one_voxel[10, 10, 10] = 1
    segments += [
        imageio.Segment("empty_one", empty),
        imageio.Segment("tiny_one", one_voxel),
        imageio.Segment("far_away", empty, note="lies outside the image"),
    ]
    result = pipeline.compute_lesion_table(timepoints, params=LIGHT_PARAMS, patient_id="sample")
    messages = {error["lesion_id"]: error["message"] for error in result.errors}
    assert "empty" in messages["empty_one"] and "empty_one" in messages["empty_one"]
    assert "one voxel" in messages["tiny_one"]
    assert "outside the image" in messages["far_away"]
    table = result.table.set_index("lesion_id")
    assert table.loc["tiny_one", "error"] != ""
    assert np.isfinite(table.loc["liver_1", "followup:original_firstorder_Mean"])  # the others are fine
    assert result.recist["recist_category"] == "PD"


def test_segmentation_on_another_grid_is_resampled(sample_case, tmp_path):
    image = imageio.read_image(sample_case["baseline_image"])
    segments = imageio.read_segments(sample_case["baseline_seg"], image)
    coarse = sitk.Resample(segments[0].mask, [s // 2 for s in image.GetSize()], sitk.Transform(), sitk.sitkNearestNeighbor,
                           image.GetOrigin(), [2 * s for s in image.GetSpacing()], image.GetDirection(), 0, sitk.sitkUInt8)
    sitk.WriteImage(coarse, str(tmp_path / "coarse_label.nrrd"))
    resampled = imageio.read_segments(tmp_path / "coarse_label.nrrd", image)
    assert resampled[0].mask.GetSize() == image.GetSize()
    original_volume = sitk.GetArrayViewFromImage(segments[0].mask).sum()
    assert sitk.GetArrayViewFromImage(resampled[0].mask).sum() == pytest.approx(original_volume, rel=0.15)


def test_missing_file_names_the_file(sample_case, tmp_path):
    with pytest.raises(InputError, match="nowhere.nrrd"):
        pipeline.run_case_files(tmp_path / "nowhere.nrrd", sample_case["baseline_seg"], sample_case["followup_image"], sample_case["followup_seg"])


def test_extract_command_writes_table_and_provenance(sample_case, tmp_path):
    out = tmp_path / "lesions.csv"
    params = tmp_path / "light.yaml"
    params.write_text("imageType: {Original: {}}\nfeatureClass: {firstorder: [Mean]}\nsetting: {binWidth: 25}\n")
    command = [sys.executable, "-m", "ResponseSignatureLib", "extract",
               "--baseline", str(sample_case["baseline_image"]), "--baseline-seg", str(sample_case["baseline_seg"]),
               "--followup", str(sample_case["followup_image"]), "--followup-seg", str(sample_case["followup_seg"]),
               "--locations", str(sample_case["locations"]), "--patient-id", "P01", "--params", str(params), "--out", str(out)]
    finished = subprocess.run(command, capture_output=True, text=True, encoding="utf-8", timeout=300)
    assert finished.returncode == 0, finished.stderr
    assert "RECIST 1.1: PD" in finished.stdout
    table = pd.read_csv(out)
    assert set(table["patient_id"]) == {"P01"} and len(table) == 5
    assert "delta:original_firstorder_Mean" in table.columns
    assert (tmp_path / "lesions.csv.provenance.json").is_file()
    bad = subprocess.run(command[:-2] + ["--pair", "nonsense", "--out", str(out)], capture_output=True, text=True, encoding="utf-8", timeout=300)
    assert bad.returncode == 2 and "BASELINE=FOLLOWUP" in bad.stderr


def test_label_map_lesions_without_locations_each_count_as_their_own_organ(tmp_path):
    """Label maps name lesions lesion_<label>, location unknown: the 2-per-organ cap cannot group
    them, so every measurable baseline lesion of the sample case (3 liver + 1 node) is a target."""
    from ResponseSignatureLib.sample_data import make_sample_case

    paths = make_sample_case(tmp_path / "case", with_labelmaps=True)
    result = pipeline.run_case_files(paths["baseline_image"], paths["baseline_labelmap"], paths["followup_image"],
                                     paths["followup_labelmap"], params={"imageType": {"Original": {}},
                                     "featureClass": {"firstorder": ["Mean"]}})
    baseline = result.table[result.table["status"] != "new"]
    assert set(baseline["location"]) == {"other"}
    measurable = baseline[baseline["baseline:longest_diameter_mm"] >= 10.0]
    assert len(measurable) == 4
    assert set(result.recist["recist_targets"].split(",")) == set(measurable["lesion_id"])
    assert result.recist["baseline_sum_mm"] == pytest.approx(measurable["baseline:longest_diameter_mm"].sum())
    assert "location missing for target lesion(s)" in result.recist["recist_reason"]


def test_location_from_segment_tags_in_seg_nrrd(tmp_path):
    """A .seg.nrrd segment tag RadiomicsResponse.Location names the organ when no locations CSV does."""
    from ResponseSignatureLib.sample_data import make_sample_case

    paths = make_sample_case(tmp_path / "case")
    renamed, anonymous = {}, {"liver_1": "a", "liver_2": "b", "liver_3": "c", "node_1": "d", "liver_4": "e"}
    for timepoint in ("baseline", "followup"):
        image = imageio.read_image(paths[f"{timepoint}_image"])
        segments = imageio.read_segments(paths[f"{timepoint}_seg"], image)
        for segment in segments:
            segment.location = "lung" if segment.name == "node_1" else None
            segment.name = f"lesion_{anonymous[segment.name]}"  # no organ in the name any more
        imageio.write_segments(segments, image, tmp_path / f"{timepoint}.seg.nrrd")
        renamed[timepoint] = imageio.read_segments(tmp_path / f"{timepoint}.seg.nrrd", image)
    assert {s.name: s.location for s in renamed["baseline"]}["lesion_d"] == "lung"
    result = pipeline.run_case_files(paths["baseline_image"], tmp_path / "baseline.seg.nrrd", paths["followup_image"],
                                     tmp_path / "followup.seg.nrrd", locations={"lesion_b": "liver"},
                                     params={"imageType": {"Original": {}}, "featureClass": {"firstorder": ["Mean"]}})
    locations = result.table.set_index("lesion_id")["location"]
    assert locations["lesion_d"] == "lung"    # from the tag
    assert locations["lesion_b"] == "liver"   # from the mapping given
    assert locations["lesion_a"] == "other"   # nothing known: its own organ for RECIST
